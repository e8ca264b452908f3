// Jobs a commit on this server just ended, as that commit left them, for the
// waiters it wakes (Broker::ended_view): a submit waiting for its result
// answers with the ack's own record instead of reading the job again.
//
// An entry is put before the write that ends its job (not shown yet), and
// shown once that write is durable (PostgreSQL: its COMMIT returned). Any
// later change of the job that this server hears of, made here or
// elsewhere, forgets it. Since such a change is durable after the end, its
// notice comes after the entry was put, so no entry outlives a change.
// Nothing is shown while notices may be missed (the PostgreSQL store's
// listening connection is down): enable() starts afresh. Bounded by a count
// and by bytes (payloads and results): past either the oldest are
// forgotten, and their waiters read. An entry is wanted for a moment only:
// its waiters are woken right after its commit.
//
// The embedded store keeps no payloads in memory: its entries have an empty
// payload_json, and only a waiter that knows the payload (the submitter)
// answers from one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/job_id.hpp"
#include "engine/broker.hpp"

namespace errand {

class EndedJobs {
 public:
  EndedJobs(std::size_t capacity, std::size_t byte_budget)
      : capacity_(capacity), byte_budget_(byte_budget) {}

  // Returns what show() takes: only this very entry is shown then (one put
  // by a transaction that rolled back never is).
  std::uint64_t put(JobView view) {
    std::lock_guard lock(mutex_);
    if (!enabled_) return 0;
    const JobId id = view.record.id;
    const std::uint64_t token = ++puts_;
    const std::size_t bytes = sizeof(Entry) + view.payload_json.size() + view.result_json.size();
    auto [it, fresh] = jobs_.try_emplace(id);
    if (fresh) {
      order_.push_back(id);
    } else {
      bytes_ -= it->second.bytes;
    }
    it->second = Entry{std::move(view), token, bytes, false};
    bytes_ += bytes;
    while (!order_.empty() && (order_.size() > capacity_ || bytes_ > byte_budget_)) {
      erase(order_.front());
      order_.pop_front();
    }
    return token;
  }
  // Its COMMIT returned: waiters may have it.
  void show(const JobId& id, std::uint64_t token) {
    std::lock_guard lock(mutex_);
    if (const auto it = jobs_.find(id); it != jobs_.end() && it->second.token == token) {
      it->second.shown = true;
    }
  }
  void forget(const JobId& id) {
    std::lock_guard lock(mutex_);
    erase(id);  // its place in order_ goes when it comes to the front
  }
  std::optional<JobView> get(const JobId& id) const {
    std::lock_guard lock(mutex_);
    const auto it = jobs_.find(id);
    if (it == jobs_.end() || !it->second.shown) return std::nullopt;
    return it->second.view;
  }
  void enable() { reset(true); }
  void disable() { reset(false); }

 private:
  struct Entry {
    JobView view;
    std::uint64_t token = 0;
    std::size_t bytes = 0;
    bool shown = false;
  };
  void erase(const JobId& id) {  // REQUIRES: mutex_ held
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    bytes_ -= it->second.bytes;
    jobs_.erase(it);
  }
  void reset(bool enabled) {
    std::lock_guard lock(mutex_);
    enabled_ = enabled;
    jobs_.clear();
    order_.clear();
    bytes_ = 0;
  }

  const std::size_t capacity_;
  const std::size_t byte_budget_;
  mutable std::mutex mutex_;
  std::size_t bytes_ = 0;                             // GUARDED_BY(mutex_)
  bool enabled_ = false;                              // GUARDED_BY(mutex_)
  std::uint64_t puts_ = 0;                            // GUARDED_BY(mutex_)
  std::unordered_map<JobId, Entry, JobIdHash> jobs_;  // GUARDED_BY(mutex_)
  std::deque<JobId> order_;                           // GUARDED_BY(mutex_), oldest first
};

}  // namespace errand
