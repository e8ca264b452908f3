// What a fuzz target does when an invariant breaks: say which, then abort, so
// that libFuzzer saves the input as a crash. Not part of errand.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace errand::fuzz {

inline void check(bool holds, std::string_view invariant, std::string_view detail = {}) {
  if (holds) return;
  std::fprintf(stderr, "fuzz: invariant broken: %.*s\n", static_cast<int>(invariant.size()),
               invariant.data());
  if (!detail.empty()) {
    std::fprintf(stderr, "fuzz: %.*s\n", static_cast<int>(detail.size()), detail.data());
  }
  std::abort();
}

}  // namespace errand::fuzz
