// The queues this server knows to have no ready job, so that a new long poll
// on them parks at once instead of claiming in a transaction that finds
// nothing (a worker comes back for more after every job).
//
// A queue is known empty when a claim on it found nothing and no wake
// (wake_parked: a job may have become ready, here or anywhere) came between
// the claim's start and its end; any wake of the queue since forgets it. One
// counter for all queues: a wake of another queue during the claim only
// spares the knowledge, never makes it wrong. Not trusted while notifications
// may be missed (the listening connection is down), and forgotten by the
// sweep, which backs lost notifications up.
//
// Not thread-safe: PostgresBroker guards it with parked_mutex_.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace errand::postgres {

class EmptyQueues {
 public:
  // Call when a claim begins; pass the value to found_none() at its end.
  std::uint64_t claim_started() const { return wakes_; }
  void found_none(const std::vector<std::string>& queues, std::uint64_t started) {
    if (!trusted_ || started != wakes_) return;
    empty_.insert(queues.begin(), queues.end());
  }
  void woken(const std::string& queue) {
    ++wakes_;
    empty_.erase(queue);
  }
  void forget_all() {
    ++wakes_;
    empty_.clear();
  }
  // Whether notifications are heard (the listening connection is up).
  void trust(bool trusted) {
    trusted_ = trusted;
    forget_all();
  }
  bool all_empty(const std::vector<std::string>& queues) const {
    if (queues.empty()) return false;
    for (const auto& q : queues) {
      if (!empty_.contains(q)) return false;
    }
    return true;
  }

 private:
  std::uint64_t wakes_ = 0;
  std::set<std::string> empty_;
  bool trusted_ = false;
};

}  // namespace errand::postgres
