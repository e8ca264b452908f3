// WaitingOn: why a job that is not finished is not finished yet — the
// `waiting_on` member of the job document (docs/api.md, "waiting_on").
//
// Backend-neutral. A broker gathers what only it knows about the job's queue
// (paused or not, how many ready jobs would be leased before this one, when a
// worker last asked the queue for jobs) into QueueFacts; explain_wait() then
// picks one reason by the precedence docs/api.md documents and writes the
// human sentence. The embedded store fills QueueFacts from JobIndex and
// WorkerActivity; a PostgreSQL store would fill it from SQL.
//
// WorkerActivity keeps the "when did a worker last ask" half: every lease
// request marks its queues as asked for from its start to its end, so an open
// long poll counts as asking now.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/job.hpp"

namespace errand {

// A queued job whose queue has had no lease request for longer than this is
// waiting on `no_workers` (errand serve --no-worker-after-ms).
inline constexpr Millis kDefaultNoWorkerAfterMs = 30'000;

enum class WaitReason : unsigned char {
  kScheduled,  // a delayed job, until its run_at
  kBackoff,    // backing off after a failed attempt, until its run_at
  kPaused,     // its queue is paused
  kQueued,     // ready; `ahead` ready jobs of its queue go first
  kNoWorkers,  // ready, but no worker has asked its queue for jobs lately
  kRunning,    // leased to a worker
};

std::string_view to_string(WaitReason r);

struct WaitingOn {
  WaitReason reason = WaitReason::kQueued;
  std::string queue;
  std::string message;                 // one human sentence, shown as is by the dashboard and CLI
  std::optional<Millis> until;         // scheduled, backoff: run_at; running: lease_expires_at
  int attempt = 0;                     // backoff: the attempt that failed; running: the current one
  int max_attempts = 0;                // backoff, running
  std::optional<JobError> last_error;  // backoff
  std::int64_t ahead = 0;              // queued, no_workers
  bool ahead_at_least = false;         // `ahead` is a lower bound (a store that counts so far)
  std::int64_t idle_ms = 0;            // no_workers: how long no worker has asked
  std::optional<Millis> last_lease_request_at;  // no_workers; nullopt: never since the start
  std::string worker;                           // running
  bool cancel_requested = false;                // running
};

// What the broker knows about the job's queue at the time of the answer.
struct QueueFacts {
  bool paused = false;
  // Ready jobs of the queue that a lease would take before this job
  // (higher priority first, then FIFO), whether or not the job is ready.
  std::int64_t ahead = 0;
  // True when the store stopped counting at `ahead`: that many or more.
  bool ahead_at_least = false;
  // When a lease request for the queue last ended or started; nullopt when
  // none did since `tracking_since`.
  std::optional<Millis> last_lease_request_at;
  bool asking_now = false;  // a lease request (a long poll) for the queue is open
  // Jobs of the queue running now: workers that hold them are busy, not gone,
  // so the queue is not `no_workers` while it has any.
  std::int64_t running = 0;
  Millis tracking_since = 0;  // when the broker started watching lease requests
  Millis no_worker_after_ms = kDefaultNoWorkerAfterMs;
};

// Why `job` is not finished at `now`; nullopt for a terminal job.
std::optional<WaitingOn> explain_wait(const JobRecord& job, const QueueFacts& queue, Millis now);

// When workers last asked each queue for jobs. In memory, per process, not
// persisted: after a restart every queue counts as idle since the start,
// which gives workers the threshold to come back before a job says
// `no_workers`. Bounded: past kMaxQueues tracked names, the one idle the
// longest is forgotten (its queue then reads as idle since the start).
//
// Thread-safe; never calls out while holding its mutex, so a caller may hold
// its own lock around any method.
class WorkerActivity {
 public:
  static constexpr std::size_t kMaxQueues = 10'000;

  explicit WorkerActivity(Millis started_at) : started_at_(started_at) {}

  // A lease request for `queues` starts / ends at `now`. Each started() is
  // followed by one ended() with the same queues.
  void started(std::span<const std::string> queues, Millis now);
  void ended(std::span<const std::string> queues, Millis now);
  // A lease request that starts and ends at once (no long poll).
  void asked(std::span<const std::string> queues, Millis now);

  // Fills the last_lease_request_at, asking_now and tracking_since of `facts`.
  void describe(std::string_view queue, QueueFacts& facts) const;

  // The queues a lease request asked for at `since` or later, each with
  // when it last did: `now` for a queue a request is open on. What a store
  // shared by several servers tells the others (PostgreSQL).
  std::vector<std::pair<std::string, Millis>> asked_since(Millis since, Millis now) const;

 private:
  struct Entry {
    Millis last = 0;
    int open = 0;  // lease requests open now
  };
  Entry& entry(const std::string& queue);  // REQUIRES: mutex_ held

  const Millis started_at_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> queues_;  // GUARDED_BY(mutex_)
};

}  // namespace errand
