// The webhook signature header: `Errand-Signature: sha256=<hex HMAC-SHA256 of
// the body, keyed with the rule's secret>` (SPEC §3 Alerts), as GitHub and
// Stripe sign theirs, so receivers can check a request came from us.
#pragma once

#include <string>
#include <string_view>

namespace errand::alerts {

inline constexpr std::string_view kSignatureHeader = "Errand-Signature";

// "sha256=" followed by 64 lower-case hex digits.
std::string sign_body(std::string_view secret, std::string_view body);

}  // namespace errand::alerts
