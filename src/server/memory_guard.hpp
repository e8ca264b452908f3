// MemoryGuard: samples the process's resident memory ten times a second and
// says whether new work should be refused (core/memory_guard.hpp has the
// rules; docs/reliability.md "Admission control" the why).
//
// Thread-safe: refusal() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace errand::server {

// The process's resident set size in bytes, read now (/proc/self/statm); 0
// when it cannot be read.
std::uint64_t resident_memory_bytes();

class MemoryGuard {
 public:
  // `limit_bytes` 0: the default (80% of the cgroup's or the machine's memory).
  explicit MemoryGuard(std::uint64_t limit_bytes);
  ~MemoryGuard();
  MemoryGuard(const MemoryGuard&) = delete;
  MemoryGuard& operator=(const MemoryGuard&) = delete;

  std::uint64_t limit_bytes() const { return limit_; }
  // Why new work is refused now (a sentence for the 503), or nullopt.
  std::optional<std::string> refusal() const;

 private:
  void run();

  const std::uint64_t limit_;
  std::atomic<bool> under_pressure_{false};
  std::atomic<std::uint64_t> resident_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;  // GUARDED_BY(mutex_)
  std::thread sampler_;
};

}  // namespace errand::server
