#include "web/assets.hpp"

#include "web/assets_data.hpp"

namespace errand::web {

std::optional<StaticAsset> find_asset(std::string_view path) {
  // A dozen files: a linear scan beats building an index.
  for (std::size_t i = 0; i < kAssetCount; ++i) {
    const EmbeddedFile& f = kAssets[i];
    if (path != f.path) continue;
    return StaticAsset{
        f.path, f.content_type, f.etag, {reinterpret_cast<const char*>(f.bytes), f.size}};
  }
  return std::nullopt;
}

}  // namespace errand::web
