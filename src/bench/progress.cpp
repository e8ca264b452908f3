#include "bench/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace errand::bench {
namespace {

constexpr auto kTerminalInterval = std::chrono::milliseconds(250);
constexpr auto kLogInterval = std::chrono::seconds(10);

}  // namespace

Progress::Progress(bool enabled) : tty_(::isatty(STDERR_FILENO) == 1) {
  if (enabled) thread_ = std::thread([this] { print_loop(); });
}

Progress::~Progress() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Progress::begin(std::string phase, std::string unit, std::uint64_t total) {
  std::lock_guard lock(mutex_);
  phase_ = std::move(phase);
  unit_ = std::move(unit);
  total_ = total;
  started_ = Clock::now();
  done_.store(0, std::memory_order_relaxed);
}

std::string Progress::line(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (phase_.empty()) return {};
  const std::uint64_t done = done_.load(std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(now - started_).count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  char text[256];
  if (total_ > 0) {
    std::snprintf(text, sizeof text, "errand bench: %s: %llu/%llu %s, %.0f/s, %.0f s",
                  phase_.c_str(), static_cast<unsigned long long>(done),
                  static_cast<unsigned long long>(total_), unit_.c_str(), rate, seconds);
  } else {
    std::snprintf(text, sizeof text, "errand bench: %s: %llu %s, %.0f/s, %.0f s", phase_.c_str(),
                  static_cast<unsigned long long>(done), unit_.c_str(), rate, seconds);
  }
  return text;
}

void Progress::print_loop() {
  const auto interval = tty_ ? Clock::duration(kTerminalInterval) : Clock::duration(kLogInterval);
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    const std::string text = line(Clock::now());
    if (!text.empty()) {
      if (tty_) {
        // Redrawn in place; padded so a shorter line hides the longer one before.
        std::fprintf(stderr, "\r%-*s", static_cast<int>(drawn_), text.c_str());
        drawn_ = std::max(drawn_, text.size());
      } else {
        std::fprintf(stderr, "%s\n", text.c_str());
      }
      std::fflush(stderr);
    }
    lock.lock();
  }
  if (tty_ && drawn_ > 0) std::fprintf(stderr, "\r%*s\r", static_cast<int>(drawn_), "");
}

}  // namespace errand::bench
