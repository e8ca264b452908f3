#include "api/cors.hpp"

#include <algorithm>

namespace errand::api {

bool cors_allows(const std::vector<std::string>& allowed, std::string_view origin) {
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& a) { return a == "*" || a == origin; });
}

void add_cors_headers(http::Response& r, std::string_view origin) {
  // The origin is echoed rather than "*" so that credentials (an
  // Authorization header) work too; Vary keeps shared caches honest.
  r.set("Access-Control-Allow-Origin", std::string(origin));
  r.set("Vary", "Origin");
  r.set("Access-Control-Expose-Headers",
        "Location, Retry-After, Preference-Applied, Idempotent-Replayed, WWW-Authenticate");
}

http::Response cors_preflight(std::string_view origin) {
  http::Response r;
  r.status = 204;
  add_cors_headers(r, origin);
  r.set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE");
  r.set("Access-Control-Allow-Headers",
        "Content-Type, Prefer, Idempotency-Key, Authorization, traceparent, Last-Event-ID");
  r.set("Access-Control-Max-Age", "600");
  return r;
}

}  // namespace errand::api
