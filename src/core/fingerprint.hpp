// A stable 64-bit fingerprint (FNV-1a) of bytes. Persisted (the idempotency
// check compares payload fingerprints across restarts), so it must never
// change with the compiler or standard library, unlike std::hash.
#pragma once

#include <cstdint>
#include <string_view>

namespace errand {

constexpr std::uint64_t fingerprint(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace errand
