// WaiterRegistry: who is waiting for what. Long polls, `Prefer: wait` and SSE
// streams subscribe to topics; the broker notifies a topic after a change is
// durable. Nothing polls.
//
// Use it as "subscribe, then check, then wait": a notification that arrives
// between the check and the wait is not lost, because the subscription came
// first.
//
// Thread-safe. Wake callbacks run on the notifying thread, outside the lock;
// they must be quick (post to an executor, nothing more).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/job_id.hpp"

namespace errand {

std::string job_topic(const JobId& id);
std::string flow_topic(const JobId& id);
std::string queue_topic(std::string_view queue);

class WaiterRegistry {
 public:
  using Wake = std::function<void()>;
  using Id = std::uint64_t;

  // Wakes `wake` once, on the first notification of any of `topics`, and
  // forgets it then. Returns an id for unsubscribe().
  Id subscribe(std::span<const std::string> topics, Wake wake);
  // Forgets a subscription; harmless when it already fired.
  void unsubscribe(Id id);

  // Wakes every waiter on `topic` (job changes: all watchers care).
  void notify_all(std::string_view topic);
  // Wakes up to `n` waiters on `topic`, oldest first (a ready job needs one
  // worker, not all of them).
  void notify_some(std::string_view topic, std::size_t n);
  // Wakes everyone (shutdown).
  void notify_everyone();

  std::size_t size() const;
  // Whether anyone waits on `topic` now.
  bool has_waiters(std::string_view topic) const;

 private:
  struct Waiter {
    Wake wake;
    std::vector<std::string> topics;
  };
  // Removes `id` from every topic list; returns its wake callback.
  Wake take_locked(Id id);

  mutable std::mutex mutex_;
  Id next_id_ = 1;
  std::unordered_map<Id, Waiter> waiters_;                 // GUARDED_BY(mutex_)
  std::unordered_map<std::string, std::list<Id>> topics_;  // GUARDED_BY(mutex_)
};

}  // namespace errand
