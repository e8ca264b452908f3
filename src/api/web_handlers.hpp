// The dashboard's files over HTTP: GET / is the page, GET /ui/<path> the files
// it loads (CSS, ES modules, icons), all embedded in the binary (src/web).
// Internal to api/.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http/message.hpp"

namespace errand::api {

// The path prefix of the dashboard's files; "/" itself is the page.
inline constexpr std::string_view kDashboardPrefix = "ui";

// Answers GET or HEAD of the embedded file `asset_path` (relative to web/,
// e.g. "index.html"): 200 with the file, 304 when If-None-Match names its
// ETag, 404 when there is no such file, 405 for any other method.
http::Response static_asset(const http::Request& req, std::string_view asset_path);

// The answer for a dashboard path given as percent-decoded `segments` ({""}
// for "/", {"ui", "js", "app.js"} for "/ui/js/app.js"); nullopt for any other
// path, which is not the dashboard's to answer.
std::optional<http::Response> dashboard(const http::Request& req,
                                        const std::vector<std::string>& segments);

}  // namespace errand::api
