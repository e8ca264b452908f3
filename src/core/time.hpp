// Time as errand stores and prints it: milliseconds since the Unix epoch,
// printed as RFC 3339 UTC with milliseconds ("2026-11-27T11:23:19.123Z").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace errand {

using Millis = std::int64_t;  // milliseconds since 1970-01-01T00:00:00Z

// The wall clock, in milliseconds.
Millis now_millis();

// "YYYY-MM-DDTHH:MM:SS.mmmZ". REQUIRES: 0 <= t < year 10000.
std::string format_rfc3339(Millis t);
// The same, appended to `out`.
void append_rfc3339(std::string& out, Millis t);

// Parses RFC 3339 date-time ("2026-11-27T11:23:19Z", fractions of any length,
// "Z" or "+hh:mm"/"-hh:mm" offsets, 't'/'z' in lower case too). nullopt when
// malformed or out of range.
std::optional<Millis> parse_rfc3339(std::string_view text);

}  // namespace errand
