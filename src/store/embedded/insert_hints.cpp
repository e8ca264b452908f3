#include "store/embedded/insert_hints.hpp"

#include <rocksdb/slice.h>
#include <rocksdb/slice_transform.h>

#include <cstddef>

namespace errand::embedded {
namespace {

class EventsOnly final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "errand.EventsOnly"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override { return {key.data(), 0}; }
  // A timeline key (16 id bytes, 4 sequence bytes) with a sequence above 0.
  bool InDomain(const rocksdb::Slice& key) const override {
    constexpr std::size_t kIdSize = 16, kKeySize = kIdSize + 4;
    if (key.size() != kKeySize) return false;
    for (std::size_t i = kIdSize; i < kKeySize; ++i) {
      if (key[i] != 0) return true;
    }
    return false;
  }
};

}  // namespace

std::shared_ptr<const rocksdb::SliceTransform> one_hint() {
  return std::shared_ptr<const rocksdb::SliceTransform>(rocksdb::NewFixedPrefixTransform(0));
}

std::shared_ptr<const rocksdb::SliceTransform> one_hint_for_events() {
  return std::make_shared<EventsOnly>();
}

}  // namespace errand::embedded
