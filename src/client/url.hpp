// URL and header building blocks shared by Client's calls.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace errand::client_detail {

// RFC 3986 percent-encoding of everything but the unreserved characters, for
// one path segment or one query value.
std::string percent_encode(std::string_view s);

// "https://host:7400/" -> "https://host:7400": targets start with '/'.
std::string trim_base_url(std::string_view url);

// The value of `Prefer: wait=N`: seconds, fractions to the millisecond.
std::string wait_value(double seconds);

// The wait as a duration, for a request's timeout; negative counts as zero.
std::chrono::milliseconds wait_duration(double seconds);

}  // namespace errand::client_detail
