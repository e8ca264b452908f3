// The settings of queues as this server last read them, so that a submit
// need not read them before it writes (one round trip to PostgreSQL
// instead of two: PostgresBroker::admit).
//
// Only a hint, never trusted: the submit's transaction checks that the
// settings it went by are still so (errand.as_read), and fails otherwise;
// the store then forgets all it knew and the submit goes again, reading.
// Bounded: past `capacity` queues it starts afresh.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace errand::postgres {

class KnownQueues {
 public:
  struct Settings {
    std::int64_t max_queued = 0;  // 0: no limit
    bool paused = false;
  };

  explicit KnownQueues(std::size_t capacity) : capacity_(capacity) {}

  std::optional<Settings> get(const std::string& queue) const {
    std::lock_guard lock(mutex_);
    const auto it = queues_.find(queue);
    if (it == queues_.end()) return std::nullopt;
    return it->second;
  }
  void put(const std::string& queue, Settings settings) {
    std::lock_guard lock(mutex_);
    if (queues_.size() >= capacity_ && !queues_.contains(queue)) queues_.clear();
    queues_[queue] = settings;
  }
  void forget(const std::string& queue) {
    std::lock_guard lock(mutex_);
    queues_.erase(queue);
  }
  void clear() {
    std::lock_guard lock(mutex_);
    queues_.clear();
  }

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Settings> queues_;  // GUARDED_BY(mutex_)
};

}  // namespace errand::postgres
