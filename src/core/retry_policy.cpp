#include "core/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace errand {

Status Backoff::validate() const {
  if (initial_ms < 0) return invalid_argument("backoff.initial_ms must be >= 0");
  if (!(multiplier >= 1.0) || !std::isfinite(multiplier) || multiplier > 1000) {
    return invalid_argument("backoff.multiplier must be between 1 and 1000");
  }
  if (max_ms < 0) return invalid_argument("backoff.max_ms must be >= 0");
  if (!(jitter >= 0.0 && jitter <= 1.0))
    return invalid_argument("backoff.jitter must be in [0, 1]");
  return Status::ok();
}

std::int64_t retry_delay_ms(const Backoff& b, int attempt, double unit_random) {
  const int exponent = std::max(0, attempt - 1);
  // Computed in double and capped before converting: multiplier^exponent
  // overflows any integer long before max_ms stops it.
  const double raw = static_cast<double>(b.initial_ms) * std::pow(b.multiplier, exponent);
  const double capped = std::min(raw, static_cast<double>(b.max_ms));
  const double factor = 1.0 + b.jitter * (2.0 * unit_random - 1.0);
  const double jittered = std::max(0.0, capped * factor);
  return static_cast<std::int64_t>(std::llround(jittered));
}

}  // namespace errand
