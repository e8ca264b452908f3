// RFC 9457 problem details: the one shape of every error answer the API
// gives, from framing errors in the server to domain errors in handlers.
//
// Thread-safe: pure functions.
#pragma once

#include "api/http/message.hpp"

#include <string_view>

namespace errand::http {

// A response with `Content-Type: application/problem+json` and the body
// {"type": type, "title": <reason phrase of status>, "status": status, "detail": detail}.
// "title" is left out for a status without a registered reason phrase.
Response problem(int status, std::string_view detail, std::string_view type = "about:blank");

// The RFC 9110 reason phrase of `status` ("Not Found"), or "" when unknown.
std::string_view reason_phrase(int status);

}  // namespace errand::http
