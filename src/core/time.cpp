#include "core/time.hpp"

#include <chrono>
#include <cstdio>

namespace errand {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the times with a
// four-digit year in UTC.
constexpr Millis kEarliestRfc3339 = -62'167'219'200'000;
constexpr Millis kLatestRfc3339 = 253'402'300'799'999;

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t& pos, int n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char a, char b = '\0') {
  if (pos >= s.size() || (s[pos] != a && (b == '\0' || s[pos] != b))) return false;
  ++pos;
  return true;
}

}  // namespace

Millis now_millis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void append_rfc3339(std::string& out, Millis t) {
  const std::int64_t ms = ((t % 1000) + 1000) % 1000;
  std::int64_t secs = (t - ms) / 1000;
  std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  std::int64_t sod = secs - days * 86400;
  // civil_from_days (Howard Hinnant).
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  const int hour = static_cast<int>(sod / 3600);
  const int minute = static_cast<int>(sod % 3600 / 60);
  const int second = static_cast<int>(sod % 60);
  if (y < 0 || y > 9999) {
    char buf[64];  // larger than needed: GCC cannot bound the year's digits
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(y), m, d,
                  hour, minute, second, static_cast<int>(ms));
    out += buf;
    return;
  }
  // Written by hand: this runs several times for every job document, and
  // snprintf was a tenth of a submit's instructions.
  const std::size_t at = out.size();
  out += "0000-00-00T00:00:00.000Z";
  const auto put = [&out, at](std::size_t offset, int width, std::int64_t value) {
    for (int i = width - 1; i >= 0; --i, value /= 10) {
      out[at + offset + i] = static_cast<char>('0' + value % 10);
    }
  };
  put(0, 4, y);
  put(5, 2, m);
  put(8, 2, d);
  put(11, 2, hour);
  put(14, 2, minute);
  put(17, 2, second);
  put(20, 3, ms);
}

std::string format_rfc3339(Millis t) {
  std::string out;
  append_rfc3339(out, t);
  return out;
}

std::optional<Millis> parse_rfc3339(std::string_view s) {
  std::size_t p = 0;
  int year, month, day, hour, minute, second;
  if (!digits(s, p, 4, year) || !expect(s, p, '-') || !digits(s, p, 2, month) ||
      !expect(s, p, '-') || !digits(s, p, 2, day) || !expect(s, p, 'T', 't') ||
      !digits(s, p, 2, hour) || !expect(s, p, ':') || !digits(s, p, 2, minute) ||
      !expect(s, p, ':') || !digits(s, p, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  int millis = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int n = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (n < 3) millis = millis * 10 + (s[p] - '0');
      ++n;
      ++p;
    }
    if (n == 0) return std::nullopt;
    for (int i = n; i < 3; ++i) millis *= 10;
  }
  int offset_minutes = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    const int sign = s[p] == '+' ? 1 : -1;
    ++p;
    int oh, om;
    if (!digits(s, p, 2, oh) || !expect(s, p, ':') || !digits(s, p, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (p != s.size()) return std::nullopt;
  if (second == 60) second = 59;  // a leap second is held at :59.999 rather than rejected
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  const Millis t = secs * 1000 + millis;
  // An offset can carry a time past year 0000 or 9999 in UTC, which
  // format_rfc3339 cannot print as RFC 3339 (found by fuzz_job_json).
  if (t < kEarliestRfc3339 || t > kLatestRfc3339) return std::nullopt;
  return t;
}

}  // namespace errand
