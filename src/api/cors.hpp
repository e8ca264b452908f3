// CORS (Fetch standard): lets a page served from another origin — a checkout
// form on shop.example — call the facade directly. Off unless origins are
// configured (`errand serve --cors-origin`).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/http/message.hpp"

namespace errand::api {

// Whether `origin` (the request's Origin header) may use the API. "*" in
// `allowed` admits every origin.
bool cors_allows(const std::vector<std::string>& allowed, std::string_view origin);

// Adds the headers that let the browser show `response` to a page of `origin`,
// including the headers the facade's answers carry (Location, Retry-After…).
void add_cors_headers(http::Response& response, std::string_view origin);

// The answer to a preflight (OPTIONS with Access-Control-Request-Method).
http::Response cors_preflight(std::string_view origin);

}  // namespace errand::api
