// The jobs this server knows to be unfinished, so that a waiter need not read
// a job that cannot have ended (Broker::known_unfinished).
//
// Safe only if every end is seen: a job is added before the COMMIT that
// creates it, and dropped when a change to a terminal state (or a removal)
// is seen, made here or heard from another server's notification, before its
// waiters are woken. Notifications may be missed while the listening
// connection is down, so nothing is known then (disable()), and what was
// known before is forgotten (enable() starts afresh).
//
// Bounded: past `capacity`, the oldest are forgotten, and their waiters read.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <unordered_set>

#include "core/job_id.hpp"

namespace errand::postgres {

class UnfinishedJobs {
 public:
  explicit UnfinishedJobs(std::size_t capacity) : capacity_(capacity) {}

  void add(const JobId& id) {
    std::lock_guard lock(mutex_);
    if (!enabled_ || !ids_.insert(id).second) return;
    order_.push_back(id);
    if (order_.size() > capacity_) {
      ids_.erase(order_.front());
      order_.pop_front();
    }
  }
  void drop(const JobId& id) {
    std::lock_guard lock(mutex_);
    ids_.erase(id);  // its place in order_ goes when it comes to the front
  }
  bool contains(const JobId& id) const {
    std::lock_guard lock(mutex_);
    return ids_.contains(id);
  }
  void enable() { reset(true); }
  void disable() { reset(false); }

 private:
  void reset(bool enabled) {
    std::lock_guard lock(mutex_);
    enabled_ = enabled;
    ids_.clear();
    order_.clear();
  }

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  bool enabled_ = false;                      // GUARDED_BY(mutex_)
  std::unordered_set<JobId, JobIdHash> ids_;  // GUARDED_BY(mutex_)
  std::deque<JobId> order_;                   // GUARDED_BY(mutex_), oldest first
};

}  // namespace errand::postgres
