// The table of embedded files that embed_assets.cmake generates. Internal to
// src/web: use find_asset() (assets.hpp).
#pragma once

#include <cstddef>

namespace errand::web {

struct EmbeddedFile {
  const char* path;          // relative to web/, e.g. "js/app.js"
  const char* content_type;  // e.g. "text/javascript; charset=utf-8"
  const char* etag;          // a strong validator, quotes included
  const unsigned char* bytes;
  std::size_t size;
};

extern const EmbeddedFile kAssets[];
extern const std::size_t kAssetCount;

}  // namespace errand::web
