// What the broker did, as feeds that others listen to: every job state
// change (metrics, the server-wide event stream, later alerts, logs and
// OpenTelemetry export) and every group commit (fsync time, batch size).
//
// A backend publishes a change only once it is durable, in commit order, so a
// listener never sees a change that a crash could take back, and sees the
// changes of one job in the order they happened.
//
// Thread-safe. Listeners run on the publishing thread (the commit thread)
// while the feed's lock is held: they must be quick (count, copy into a
// bounded buffer, post) and must not subscribe or unsubscribe themselves.
// In exchange, once unsubscribe() returns its listener never runs again, so a
// listener may refer to its subscriber's state.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/job.hpp"

namespace errand {

// One job moving from one state to another. `from` is empty for a job that
// was just created, `to` for one that was removed (discarded, or purged after
// its retention); never from == to. The other fields are the job's after the
// change, so that listeners need not read the job back.
struct StateChange {
  JobId id;
  std::string queue;
  std::optional<JobState> from;
  std::optional<JobState> to;
  Millis at = 0;
  int attempt = 0;
  std::string worker;      // empty when never leased
  std::string error_type;  // the last error's type; empty when none
  Millis created_at = 0;
  Millis run_at = 0;  // when it became ready (or, scheduled, will be)
  std::optional<Millis> started_at;
  std::string traceparent;
};

// The job record `r` after a move from `from` to `to`, at `at`.
StateChange state_change(const JobRecord& r, std::optional<JobState> from,
                         std::optional<JobState> to, Millis at);

// One group commit: how long the write took (with its fsync under
// --durability fsync) and how many changes (requests) shared it.
struct CommitStats {
  double write_seconds = 0;
  std::size_t changes = 0;
  // The disk refused the write (I/O error, disk full): none of it is durable,
  // and the store takes no writes until it has recovered.
  bool failed = false;
};

template <typename Event>
class Feed {
 public:
  using Listener = std::function<void(std::span<const Event>)>;
  using Id = std::uint64_t;

  Id subscribe(Listener listener) {
    std::lock_guard lock(mutex_);
    const Id id = next_id_++;
    listeners_.emplace_back(id, std::move(listener));
    count_.store(listeners_.size(), std::memory_order_relaxed);
    return id;
  }
  // Harmless for an unknown id. REQUIRES: not called from a listener.
  void unsubscribe(Id id) {
    std::lock_guard lock(mutex_);
    std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
    count_.store(listeners_.size(), std::memory_order_relaxed);
  }
  void publish(std::span<const Event> events) const {
    if (events.empty() || !has_listeners()) return;
    std::lock_guard lock(mutex_);
    for (const auto& [id, listener] : listeners_) listener(events);
  }
  // Lets a publisher skip preparing events that nobody would see.
  bool has_listeners() const { return count_.load(std::memory_order_relaxed) > 0; }

 private:
  mutable std::mutex mutex_;
  Id next_id_ = 1;                                  // GUARDED_BY(mutex_)
  std::vector<std::pair<Id, Listener>> listeners_;  // GUARDED_BY(mutex_)
  std::atomic<std::size_t> count_{0};
};

using ChangeFeed = Feed<StateChange>;
using CommitFeed = Feed<CommitStats>;

}  // namespace errand
