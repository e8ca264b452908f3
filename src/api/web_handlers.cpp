// The dashboard's files: headers chosen so that a browser runs only what
// errand itself serves, and always revalidates (see docs/dashboard.md).
#include "api/web_handlers.hpp"

#include <string>

#include "api/http/problem.hpp"
#include "web/assets.hpp"

namespace errand::api {
namespace {

// Scripts, styles, images and connections only from errand itself; no inline
// script or style, no plugins, no framing, no <base> tricks, forms post home.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

// Whether an If-None-Match value ("a", W/"a", "a", "b" or *) names `etag`.
bool matches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match == "*") return true;
  while (!if_none_match.empty()) {
    const auto comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);  // weak comparison, RFC 9110 13.1.2
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

http::Response static_asset(const http::Request& req, std::string_view asset_path) {
  if (req.method != "GET" && req.method != "HEAD") {
    auto r = http::problem(405, "this path accepts GET, HEAD");
    r.set("Allow", "GET, HEAD");
    return r;
  }
  const auto asset = web::find_asset(asset_path);
  if (!asset) return http::problem(404, "no such resource: " + std::string(req.path()));

  http::Response r;
  // The files' names carry no version, so a browser keeps them but asks each
  // time whether they changed: a new binary is picked up on the next load.
  r.set("Cache-Control", "no-cache");
  r.set("ETag", std::string(asset->etag));
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Content-Security-Policy", kContentSecurityPolicy);
  r.set("Referrer-Policy", "no-referrer");
  const auto if_none_match = req.header("if-none-match");
  if (if_none_match && matches(*if_none_match, asset->etag)) {
    r.status = 304;
    return r;
  }
  r.status = 200;
  r.set("Content-Type", std::string(asset->content_type));
  r.body.assign(asset->body);
  return r;
}

std::optional<http::Response> dashboard(const http::Request& req,
                                        const std::vector<std::string>& segments) {
  if (segments.size() == 1 && segments[0].empty()) return static_asset(req, "index.html");
  if (segments.size() < 2 || segments[0] != kDashboardPrefix) return std::nullopt;
  std::string path = segments[1];
  for (std::size_t i = 2; i < segments.size(); ++i) path += '/' + segments[i];
  return static_asset(req, path);
}

}  // namespace errand::api
