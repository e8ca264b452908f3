// One hexadecimal digit's value, either case: job ids and token digests.
#pragma once

namespace errand {

// 0 to 15, or -1 for a character that is not a hex digit.
constexpr int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace errand
