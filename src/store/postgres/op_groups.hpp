// Group commit for the PostgreSQL store: operations of one kind (submits,
// acks) that arrive while transactions of that kind run wait for the next
// one, and then go together in a single transaction, with multi-row
// statements and one COMMIT (one WAL flush) for the lot. Alone, an
// operation goes at once.
//
// At most `max_running` groups of a kind run at a time, so that one can
// gather while another waits for its flush, and the pool keeps threads for
// everything else.
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

namespace errand::postgres {

template <typename Op>
class OpGroups {
 public:
  OpGroups(int max_running, std::size_t max_group)
      : max_running_(max_running), max_group_(max_group) {}

  // Queues `op`. True when the caller must start a runner, which calls
  // next() until it is empty.
  bool add(Op op) {
    std::lock_guard lock(mutex_);
    waiting_.push_back(std::move(op));
    if (running_ >= max_running_) return false;
    ++running_;
    return true;
  }

  // The next group, oldest first; empty when nothing waits, and then the
  // runner has ended.
  std::vector<Op> next() {
    std::lock_guard lock(mutex_);
    std::vector<Op> group;
    if (waiting_.empty()) {
      --running_;
      return group;
    }
    while (!waiting_.empty() && group.size() < max_group_) {
      group.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    }
    return group;
  }

 private:
  const int max_running_;
  const std::size_t max_group_;
  std::mutex mutex_;
  std::deque<Op> waiting_;  // GUARDED_BY(mutex_)
  int running_ = 0;         // GUARDED_BY(mutex_)
};

}  // namespace errand::postgres
