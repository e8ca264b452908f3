// How long a failed attempt waits before the next one (SPEC §1):
// min(max_ms, initial_ms * multiplier^(attempt-1)) with ±jitter relative jitter.
#pragma once

#include <cstdint>

#include "core/status.hpp"

namespace errand {

struct Backoff {
  std::int64_t initial_ms = 1000;
  double multiplier = 2.0;
  std::int64_t max_ms = 3'600'000;
  double jitter = 0.2;  // 0.2 = the delay varies by up to ±20 %

  // Checks the ranges a user may set: initial_ms >= 0, multiplier >= 1,
  // max_ms >= 0, 0 <= jitter <= 1.
  Status validate() const;
};

// The delay in milliseconds after failed attempt number `attempt` (1-based).
// `unit_random` is a number in [0, 1) that picks the jitter; 0.5 means none.
std::int64_t retry_delay_ms(const Backoff& b, int attempt, double unit_random);

}  // namespace errand
