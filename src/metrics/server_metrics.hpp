// ServerMetrics: errand's own metrics, the errand_* names of docs/metrics.md,
// on a metrics::Registry. Job counters and latency histograms follow the
// broker's change feed, fsync and batch-size histograms its commit feed; the
// API counts sync waits and holds the open-waits and streams gauges; job
// counts by state and the oldest queued age are read from the broker's queue
// stats at scrape time.
//
// The `queue` label is bounded: the first kMaxQueues queues seen get their own
// series, any later one is counted as queue="_other".
//
// Thread-safe. The feed listeners run on the commit thread and take one short
// mutex per change (the queue's series lookup).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/broker.hpp"
#include "metrics/registry.hpp"

namespace errand::metrics {

class ServerMetrics {
 public:
  static constexpr std::size_t kMaxQueues = 1000;

  // Subscribes to the broker's feeds. REQUIRES: `broker` outlives this.
  explicit ServerMetrics(Broker& broker);
  ~ServerMetrics();  // unsubscribes
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // What errand_connections reports; read at each scrape. Until set: 0.
  void set_connections_source(std::function<std::size_t()> read);

  // What process_resident_memory_bytes reports; read at each scrape. Until
  // set: 0.
  void set_resident_memory_source(std::function<std::uint64_t()> read);

  // Totals of the OpenTelemetry export (tracing/otlp_exporter), read at each
  // scrape. Until set: 0.
  struct SpanTotals {
    std::uint64_t exported = 0;
    std::uint64_t dropped = 0;
  };
  void set_spans_source(std::function<SpanTotals()> read);

  // Open Prefer: wait requests and long-poll leases (hold a GaugeScope).
  Gauge& open_waits() { return open_waits_; }
  // Open SSE streams: a job's events and the server-wide /v1/events.
  Gauge& sse_streams() { return sse_streams_; }
  // A submit with Prefer: wait answered 200 within its wait, or 202.
  void count_sync_wait(std::string_view queue, bool in_time);
  // A submit refused by admission control: reason "queue_full" (429) or
  // "memory" (503, the memory guard).
  void count_submit_refused(std::string_view queue, std::string_view reason);
  // A /v1/events subscriber dropped because it fell behind.
  void count_events_dropped() { events_dropped_.inc(); }

  // The exposition, with the scrape-time gauges taken from `queues`.
  std::string render(const std::vector<QueueStats>& queues);

 private:
  struct QueueSeries {
    Counter* enqueued;
    Counter* leased;
    Counter* succeeded;
    Counter* attempts_failed;
    Counter* failed;
    Counter* expired;
    Counter* cancelled;
    Counter* lease_expiries;
    Counter* sync_in_time;
    Counter* sync_fell_back;
    Histogram* queue_wait;
    Histogram* run;
    Histogram* end_to_end;
  };

  void on_changes(std::span<const StateChange> changes);
  void on_commit(const CommitStats& stats);
  // The series of `queue`, or of "_other" past the cap. REQUIRES: mutex_ held.
  QueueSeries& series_locked(std::string_view queue);
  // The label `queue` is counted under. REQUIRES: mutex_ held.
  std::string_view label_locked(std::string_view queue);

  Broker& broker_;
  Registry registry_;
  CounterFamily& enqueued_;
  CounterFamily& leased_;
  CounterFamily& succeeded_;
  CounterFamily& attempts_failed_;
  CounterFamily& failed_;
  CounterFamily& expired_;
  CounterFamily& cancelled_;
  CounterFamily& lease_expiries_;
  CounterFamily& sync_waits_;
  CounterFamily& submits_refused_;
  GaugeFamily& jobs_;
  GaugeFamily& oldest_queued_;
  Gauge& open_waits_;
  Gauge& sse_streams_;
  Gauge& connections_;
  Gauge& resident_memory_;
  Counter& events_dropped_;
  Counter& log_lines_dropped_;
  Counter& spans_exported_;
  Counter& spans_dropped_;
  Counter& store_write_errors_;
  Gauge& store_writable_;
  HistogramFamily& queue_wait_;
  HistogramFamily& run_;
  HistogramFamily& end_to_end_;
  Histogram& fsync_;
  Histogram& batch_size_;

  std::mutex mutex_;
  // The queues with their own label (at most kMaxQueues), and "_other".
  std::unordered_map<std::string, QueueSeries> queues_;  // GUARDED_BY(mutex_)
  std::function<std::size_t()> read_connections_;        // GUARDED_BY(mutex_)
  std::function<std::uint64_t()> read_resident_memory_;  // GUARDED_BY(mutex_)
  std::function<SpanTotals()> read_spans_;               // GUARDED_BY(mutex_)
  // What the counters counted from sources that keep their own totals.
  std::uint64_t log_dropped_seen_ = 0;  // GUARDED_BY(mutex_)
  SpanTotals spans_seen_;               // GUARDED_BY(mutex_)

  ChangeFeed::Id change_sub_;
  CommitFeed::Id commit_sub_;
};

}  // namespace errand::metrics
