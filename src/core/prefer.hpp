// The `Prefer: wait=N` request preference (RFC 7240 §4.3).
#pragma once

#include <optional>
#include <string_view>

namespace errand {

// The wait in milliseconds asked for by a Prefer header value such as
// "respond-async, wait=2.5", or nullopt when there is none or it is malformed
// (a malformed preference is ignored, as RFC 7240 asks).
std::optional<long long> parse_prefer_wait_ms(std::string_view header_value);

}  // namespace errand
