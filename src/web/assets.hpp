// The dashboard's files (web/ in the repository), compiled into the binary at
// build time by embed_assets.cmake. They are immutable for the life of the
// process.
//
// Thread-safe: the table is constant.
#pragma once

#include <optional>
#include <string_view>

namespace errand::web {

struct StaticAsset {
  std::string_view path;          // relative to web/, e.g. "index.html"
  std::string_view content_type;  // for the Content-Type header
  std::string_view etag;          // quoted, for the ETag header
  std::string_view body;
};

// The file at `path` relative to web/ ("index.html", "js/app.js"); nullopt
// when there is none. The match is exact: no normalisation, no directories.
std::optional<StaticAsset> find_asset(std::string_view path);

}  // namespace errand::web
