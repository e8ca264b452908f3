#include "core/prefer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace errand {
namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}
}  // namespace

std::optional<long long> parse_prefer_wait_ms(std::string_view value) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    std::string_view pref = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    pref = trim(pref.substr(0, pref.find(';')));  // parameters after ';' do not apply to wait
    const auto eq = pref.find('=');
    if (eq == std::string_view::npos || !iequals(trim(pref.substr(0, eq)), "wait")) continue;
    std::string_view number = trim(pref.substr(eq + 1));
    if (number.size() >= 2 && number.front() == '"' && number.back() == '"') {
      number = number.substr(1, number.size() - 2);
    }
    if (number.empty() || number.front() == '-' || number.front() == '+') return std::nullopt;
    double seconds = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), seconds);
    if (ec != std::errc{} || end != number.data() + number.size() || !std::isfinite(seconds)) {
      return std::nullopt;
    }
    return static_cast<long long>(std::llround(std::min(seconds, 1e9) * 1000));
  }
  return std::nullopt;
}

}  // namespace errand
