// Queue names: [A-Za-z0-9][A-Za-z0-9._-]{0,127} (SPEC §1).
#pragma once

#include <cstddef>
#include <string_view>

namespace errand {

inline constexpr std::size_t kMaxQueueNameLength = 128;

bool is_valid_queue_name(std::string_view name);

// A character a queue name may hold (after its first, which is alphanumeric).
constexpr bool is_queue_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace errand
