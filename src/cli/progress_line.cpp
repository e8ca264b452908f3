#include "cli/progress_line.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

namespace errand::cli {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<ProgressLine> parse_progress_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.starts_with(kProgressPrefix)) return std::nullopt;
  std::string_view rest = line.substr(kProgressPrefix.size());
  if (rest.empty() || !is_blank(rest.front())) return std::nullopt;
  rest = trim_blanks(rest);

  const std::size_t end = std::min(rest.find_first_of(" \t"), rest.size());
  std::string_view number = rest.substr(0, end);
  if (!number.empty() && number.back() == '%') number.remove_suffix(1);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value,
                                         std::chars_format::fixed);
  if (number.empty() || ec != std::errc() || ptr != number.data() + number.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  ProgressLine p;
  p.percent = static_cast<int>(std::lround(std::clamp(value, 0.0, 100.0)));
  p.message = std::string(trim_blanks(rest.substr(end)));
  return p;
}

std::optional<std::string> parse_no_retry_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.starts_with(kNoRetryPrefix)) return std::nullopt;
  std::string_view rest = line.substr(kNoRetryPrefix.size());
  if (!rest.empty() && !is_blank(rest.front())) return std::nullopt;
  rest = trim_blanks(rest);
  const auto type_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  };
  if (rest.size() > kMaxErrorType || !std::all_of(rest.begin(), rest.end(), type_char)) {
    return std::nullopt;
  }
  return std::string(rest);
}

std::optional<ProgressLine> ProgressThrottle::due(Clock::time_point now) {
  if (!held_ || (last_sent_ && now - *last_sent_ < interval_)) return std::nullopt;
  last_sent_ = now;
  return std::exchange(held_, std::nullopt);
}

std::optional<ProgressLine> ProgressThrottle::flush() { return std::exchange(held_, std::nullopt); }

}  // namespace errand::cli
