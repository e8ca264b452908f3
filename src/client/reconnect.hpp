// What Worker does while the server is away: exponential backoff between
// attempts, and one log line when the server goes away and one when it is
// back, however many threads notice.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace errand::client_detail {

// Doubling delays from `initial` up to `max`, each with up to 20% taken off
// at random so that workers restarted together do not retry in lockstep.
// Not thread-safe: one per retrying loop.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max);
  std::chrono::milliseconds next();
  void reset() { current_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds current_;
  std::uint64_t rng_;
};

// A log sink shared by a worker's threads: lines are written whole.
// Thread-safe.
class WorkerLog {
 public:
  explicit WorkerLog(std::function<void(std::string_view)> sink);
  void operator()(std::string_view line);

 private:
  std::mutex mutex_;
  std::function<void(std::string_view)> sink_;  // GUARDED_BY(mutex_)
};

// Thread-safe.
class ServerPresence {
 public:
  ServerPresence(WorkerLog& log, std::string server) : log_(log), server_(std::move(server)) {}
  // A call failed in a way worth retrying; `why` is the error's message.
  void away(std::string_view why);
  // A call got an answer.
  void back();
  [[nodiscard]] bool is_away() const { return away_.load(); }

 private:
  WorkerLog& log_;
  std::string server_;
  std::atomic<bool> away_{false};
};

}  // namespace errand::client_detail
