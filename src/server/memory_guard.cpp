#include "server/memory_guard.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string_view>

#include "core/memory_guard.hpp"
#include "logging/log.hpp"

namespace errand::server {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr auto kSampleEvery = std::chrono::milliseconds(100);

// cgroup v2's memory.max, when the process runs under a limit ("max": none).
std::optional<std::uint64_t> cgroup_limit() {
  std::ifstream f("/sys/fs/cgroup/memory.max");
  std::string value;
  if (!(f >> value) || value == "max") return std::nullopt;
  try {
    return std::stoull(value);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::uint64_t machine_memory() {
  return static_cast<std::uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
         static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

// 0 when it cannot be read, which never refuses anything.
std::uint64_t resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t total_pages = 0;
  std::uint64_t resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

MemoryGuard::MemoryGuard(std::uint64_t limit_bytes)
    : limit_(limit_bytes != 0 ? limit_bytes
                              : default_memory_limit(cgroup_limit(), machine_memory())) {
  sampler_ = std::thread([this] { run(); });
}

MemoryGuard::~MemoryGuard() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  sampler_.join();
}

std::optional<std::string> MemoryGuard::refusal() const {
  if (!under_pressure_.load(std::memory_order_relaxed)) return std::nullopt;
  return "the server is short of memory (" + std::to_string(resident_.load() / kMiB) +
         " MiB resident, the guard is at " + std::to_string(limit_ / kMiB) +
         " MiB, see --max-memory-mb); try again later";
}

void MemoryGuard::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    const std::uint64_t resident = resident_memory_bytes();
    resident_.store(resident);
    const bool was = under_pressure_.load();
    const bool now = memory_pressure(was, resident, limit_);
    if (now != was) {
      under_pressure_.store(now);
      log::write(now ? log::Level::kWarn : log::Level::kInfo,
                 now ? "memory guard: refusing new work" : "memory guard: accepting new work again",
                 {{"resident_mib", resident / kMiB}, {"limit_mib", limit_ / kMiB}});
    }
    wake_.wait_for(lock, kSampleEvery, [this] { return stop_; });
  }
}

}  // namespace errand::server
