#include "client/reconnect.hpp"

#include <cstdio>
#include <random>

namespace errand::client_detail {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      current_(initial_),
      rng_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::next() {
  const auto d = current_;
  current_ = std::min(current_ * 2, max_);
  // xorshift64: enough to spread retries, no shared state.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const auto cut = d.count() / 5 == 0 ? 0 : static_cast<std::int64_t>(rng_ % (d.count() / 5 + 1));
  return d - std::chrono::milliseconds(cut);
}

WorkerLog::WorkerLog(std::function<void(std::string_view)> sink) : sink_(std::move(sink)) {
  if (!sink_) {
    sink_ = [](std::string_view line) {
      std::fprintf(stderr, "errand worker: %.*s\n", static_cast<int>(line.size()), line.data());
    };
  }
}

void WorkerLog::operator()(std::string_view line) {
  std::lock_guard lock(mutex_);
  try {
    sink_(line);
  } catch (...) {
    // A log line is not worth a worker thread: a throwing sink loses it.
  }
}

void ServerPresence::away(std::string_view why) {
  if (!away_.exchange(true)) log_(std::string(why) + "; retrying until it is back");
}

void ServerPresence::back() {
  if (away_.exchange(false)) log_("errand at " + server_ + " answers again");
}

}  // namespace errand::client_detail
