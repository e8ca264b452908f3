// The progress line of `errand bench` on stderr: the phase, how far it is
// and the current rate. On a terminal it is redrawn in place four times a
// second and erased at the end; otherwise (a log, a CI job) a plain line is
// written every 10 s, so a long run shows it is alive without flooding.
//
// Thread-safe: the workloads count on the io_context thread, a thread of
// its own prints.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace errand::bench {

class Progress {
 public:
  // `enabled` false: prints nothing (--quiet).
  explicit Progress(bool enabled);
  ~Progress();  // stops the printing thread and erases the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Starts a phase: "w1 enqueue", counting `unit` up to `total` (0: open-ended).
  void begin(std::string phase, std::string unit, std::uint64_t total);
  void add(std::uint64_t n = 1) { done_.fetch_add(n, std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;

  void print_loop();
  std::string line(Clock::time_point now);

  const bool tty_;
  std::atomic<std::uint64_t> done_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;      // GUARDED_BY(mutex_)
  std::string phase_;          // GUARDED_BY(mutex_)
  std::string unit_;           // GUARDED_BY(mutex_)
  std::uint64_t total_ = 0;    // GUARDED_BY(mutex_)
  Clock::time_point started_;  // GUARDED_BY(mutex_)
  std::size_t drawn_ = 0;      // width of the line on the terminal; print thread only
  std::thread thread_;         // last: starts once the rest is set up
};

}  // namespace errand::bench
