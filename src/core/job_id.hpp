// Job identifiers: UUIDv7 (RFC 9562), time-ordered, so sorting ids sorts jobs
// by creation time; the store keys jobs by the 16 raw bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/time.hpp"

namespace errand {

struct JobId {
  std::array<std::uint8_t, 16> bytes{};

  // "0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e" (lower-case hex).
  std::string to_string() const;
  // Accepts the canonical 36-character form in either case.
  static std::optional<JobId> parse(std::string_view text);
  std::string_view raw() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  static JobId from_raw(std::string_view raw);  // REQUIRES: raw.size() == 16

  auto operator<=>(const JobId&) const = default;
};

struct JobIdHash {
  std::size_t operator()(const JobId& id) const noexcept;
};

// Makes UUIDv7s that are strictly increasing even within one millisecond
// (RFC 9562 §6.2 method 1: a 12-bit counter in rand_a, re-seeded each ms).
// Not thread-safe.
class UuidV7Generator {
 public:
  explicit UuidV7Generator(std::uint64_t seed = std::random_device{}());
  JobId next(Millis now);

 private:
  std::mt19937_64 rng_;
  Millis last_ms_ = 0;
  std::uint32_t counter_ = 0;  // 12 bits used
};

}  // namespace errand
