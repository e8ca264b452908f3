#include "client/url.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace errand::client_detail {

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string trim_base_url(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return std::string(url);
}

std::chrono::milliseconds wait_duration(double seconds) {
  if (!(seconds > 0)) return std::chrono::milliseconds(0);  // also NaN
  // Capped far beyond any server's cap so the conversion cannot overflow.
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(std::ceil(std::min(seconds, 1e7) * 1000)));
}

std::string wait_value(double seconds) {
  const auto ms = wait_duration(seconds).count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  return s;
}

}  // namespace errand::client_detail
