// errand::Worker: leases jobs from an errand server and runs a handler for
// each, with heartbeats, progress, cancellation and a graceful stop.
//
//   errand::WorkerOptions o;
//   o.client.server = "http://127.0.0.1:7400";
//   o.queues = {"orders"};
//   o.concurrency = 4;
//   errand::Worker worker(o, [](errand::JobContext& job) {
//     job.progress(50, "charging the card");
//     if (declined) throw errand::JobFailure("card declined", "declined", {}, /*retry=*/false);
//     return std::string(R"({"charged":true})");   // the result, JSON text
//   });
//   worker.run();   // until worker.stop(), e.g. from a SIGTERM handler
//
// The handler runs on one of `concurrency` threads. Returning acks the job
// with the returned JSON; throwing JobFailure fails the attempt as described;
// any other exception fails it with type "exception" and what() as message
// (the server retries it by its policy). A worker never gives up because the
// server is unreachable: it retries with backoff and resumes, and it keeps
// trying an ack or a fail until the job's lease would have run out.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "errand/client.hpp"
#include "errand/types.hpp"

namespace errand {
inline namespace v1 {

// Throw from a handler to fail the attempt with a type the server records.
class JobFailure : public std::runtime_error {
 public:
  explicit JobFailure(std::string message, std::string type = "error", std::string detail = {},
                      bool retry = true, std::optional<std::int64_t> retry_in_ms = std::nullopt);
  [[nodiscard]] const FailRequest& request() const { return request_; }

 private:
  FailRequest request_;
};

// What a handler sees of its job and of the worker around it. Thread-safe.
class JobContext {
 public:
  virtual ~JobContext() = default;
  [[nodiscard]] virtual const LeasedJob& job() const = 0;
  // Reports progress at once (an immediate heartbeat carries it, so callers
  // waiting on the job and SSE subscribers see it now): blocks for that one
  // round trip, and every report reaches the job's timeline, in order, before
  // its outcome. While the server is unreachable it does not block; the
  // latest report then waits for the next heartbeat that gets through.
  // Throws Error (kUsage) when `data` is not JSON text; `percent` is clamped
  // to 0..100. Never throws for a network failure.
  virtual void progress(int percent, std::string message = {},
                        std::optional<std::string> data = std::nullopt) = 0;
  // Someone cancelled the job (learnt from a heartbeat): stop and throw
  // JobFailure (e.g. type "cancelled"); the server then marks it cancelled.
  [[nodiscard]] virtual bool cancel_requested() const = 0;
  // The lease is gone (expired, or the job was handed to another worker):
  // whatever the handler returns now is discarded.
  [[nodiscard]] virtual bool lease_lost() const = 0;
  // The worker was asked to stop: it lets this job finish, leases no more.
  [[nodiscard]] virtual bool stopping() const = 0;
  // Sleeps up to `d`, waking early on cancellation or a lost lease; returns
  // true when woken early. For handlers that wait on something slow.
  virtual bool wait_for_cancel(std::chrono::milliseconds d) const = 0;
};

// Returns the job's result as JSON text.
using Handler = std::function<std::string(JobContext&)>;

struct WorkerOptions {
  ClientOptions client;             // server and token (its `stop` is ignored)
  std::vector<std::string> queues;  // leased in this order (strict priority)
  std::string name;                 // shown on jobs; default "<hostname>/<pid>"
  int concurrency = 1;              // handlers running at once
  std::chrono::milliseconds lease{30000};
  std::chrono::milliseconds heartbeat_interval{0};   // 0: a third of `lease`
  double poll_wait_seconds = 20;                     // long poll of one lease request
  std::chrono::milliseconds reconnect_initial{200};  // backoff while the server is away
  std::chrono::milliseconds reconnect_max{5000};
  // One line per notable event (server unreachable / back, lease lost...);
  // default: written to stderr as "errand worker: <line>".
  std::function<void(std::string_view)> log;
};

struct WorkerStats {
  std::uint64_t succeeded = 0;   // acks the server accepted
  std::uint64_t failed = 0;      // fails the server accepted
  std::uint64_t lease_lost = 0;  // outcomes the server refused with 409
};

class Worker {
 public:
  Worker(WorkerOptions options, Handler handler);
  ~Worker();  // stop() and wait for run() to return
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Leases and runs jobs until stop(); then waits for running handlers,
  // reports their outcomes, and returns. Throws errand::Error only for a
  // usage error (no queues, a bad server URL: kUsage) or an answer no retry
  // can cure (a bad queue name: the server's 400; 401, 403), after letting
  // the jobs in hand finish. A Worker runs once: after stop(), run() returns
  // at once.
  void run();
  // Asks run() to drain and return: an idle long poll is abandoned within
  // about 100 ms. Async-signal-safe (it only stores to an atomic flag), so it
  // may be called from a signal handler.
  void stop() noexcept;
  [[nodiscard]] WorkerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace v1
}  // namespace errand
