// Sends every job's timeline as OpenTelemetry spans (tracing/job_spans) to
// an OTLP/HTTP endpoint in the JSON encoding (docs/tracing.md).
//
// A listener on the broker's change feed, on the commit thread, only copies
// the changes that end spans into a bounded queue: beyond max_pending_spans
// the oldest are dropped (counted, and logged by the sender thread). One
// sender thread makes the spans and POSTs them in batches of at most
// max_batch_spans, sent once that many are pending or batch_delay after the
// first of them came. A batch is tried max_tries times while the endpoint
// cannot be reached or answers 429, 502, 503 or 504 (backing off, or waiting
// what Retry-After says, at most max_backoff), then dropped with one log line;
// any other answer drops it at once. Batches go out one at a time, in the
// order of the changes.
//
// Thread-safe. The destructor unsubscribes, then flushes what is pending for
// at most shutdown_timeout (an unfinished POST is aborted then).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "engine/change_feed.hpp"
#include "tracing/otlp_json.hpp"

namespace errand::tracing {

struct OtlpOptions {
  std::string endpoint;      // the collector's base URL: see otlp_traces_url
  std::string service_name;  // empty: $OTEL_SERVICE_NAME, else "errand"
  // One line per notable event (a batch dropped...).
  std::function<void(const std::string&)> log;
  std::size_t max_pending_spans = 10'000;
  std::size_t max_batch_spans = 512;
  std::chrono::milliseconds batch_delay{200};
  int max_tries = 3;
  std::chrono::milliseconds initial_backoff{250};  // doubles with each try
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds shutdown_timeout{3000};
};

// Where spans go for the OTLP endpoint `endpoint`, an http:// or https://
// URL with a host: `<endpoint>/v1/traces`, or `endpoint` itself when its path
// already ends with /v1/traces (OTEL_EXPORTER_OTLP_ENDPOINT vs
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). nullopt for anything else.
std::optional<std::string> otlp_traces_url(std::string_view endpoint);

class OtlpExporter {
 public:
  // REQUIRES: otlp_traces_url(options.endpoint) has a value; `changes`
  // outlives this.
  OtlpExporter(ChangeFeed& changes, OtlpOptions options);
  ~OtlpExporter();
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  // Spans a receiver accepted so far (for tests and metrics).
  [[nodiscard]] std::uint64_t exported() const { return exported_.load(); }
  // Spans given up on: the queue overflowed, a batch failed, or shutdown came.
  [[nodiscard]] std::uint64_t dropped() const { return dropped_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    StateChange change;
    std::size_t spans;  // span_count(change)
  };

  void on_changes(std::span<const StateChange> changes);
  void run();
  // Sends the spans of `batch`, retrying as the header says. Sender thread only.
  void deliver(const std::vector<Pending>& batch);
  // Waits until `until`; false (at once) when shutdown's deadline comes first.
  bool wait_for_retry(Clock::time_point until);
  bool past_stop_deadline() const;
  void drop(std::uint64_t spans, const std::string& why);

  ChangeFeed& feed_;
  OtlpOptions options_;
  std::string url_;
  OtlpResource resource_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> pending_;         // GUARDED_BY(mutex_), in commit order
  std::size_t pending_spans_ = 0;       // GUARDED_BY(mutex_)
  Clock::time_point first_pending_at_;  // GUARDED_BY(mutex_)
  std::uint64_t overflowed_ = 0;        // GUARDED_BY(mutex_): dropped, not yet logged
  bool stopping_ = false;               // GUARDED_BY(mutex_)
  Clock::time_point stop_deadline_;     // GUARDED_BY(mutex_), once stopping_
  std::atomic<std::uint64_t> exported_{0};
  std::atomic<std::uint64_t> dropped_{0};
  ChangeFeed::Id subscription_ = 0;
  std::thread thread_;
};

}  // namespace errand::tracing
