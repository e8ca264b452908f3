#include "core/job_id.hpp"

#include <cassert>
#include <cstring>

#include "core/hex.hpp"

namespace errand {
namespace {
constexpr char kHex[] = "0123456789abcdef";

bool is_dash_position(std::size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }
}  // namespace

std::string JobId::to_string() const {
  std::string out(36, '-');  // written in place: every answer has ids in it
  char* p = out.data();
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++p;
    *p++ = kHex[bytes[i] >> 4];
    *p++ = kHex[bytes[i] & 0xf];
  }
  return out;
}

std::optional<JobId> JobId::parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  JobId id;
  std::size_t nibble = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (is_dash_position(i)) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    const int v = hex_digit_value(text[i]);
    if (v < 0) return std::nullopt;
    id.bytes[nibble / 2] |= static_cast<std::uint8_t>(nibble % 2 == 0 ? v << 4 : v);
    ++nibble;
  }
  return id;
}

JobId JobId::from_raw(std::string_view raw) {
  assert(raw.size() == 16);
  JobId id;
  std::memcpy(id.bytes.data(), raw.data(), 16);
  return id;
}

std::size_t JobIdHash::operator()(const JobId& id) const noexcept {
  // The last 8 bytes are random in a UUIDv7: already a good hash.
  std::uint64_t h;
  std::memcpy(&h, id.bytes.data() + 8, 8);
  return static_cast<std::size_t>(h);
}

UuidV7Generator::UuidV7Generator(std::uint64_t seed) : rng_(seed) {}

JobId UuidV7Generator::next(Millis now) {
  if (now > last_ms_) {
    last_ms_ = now;
    counter_ = static_cast<std::uint32_t>(rng_() & 0x1ff);  // leaves room to count up
  } else if (++counter_ > 0xfff) {
    // The counter ran out within one millisecond: borrow the next one, so
    // ids stay strictly increasing (the clock catches up within a few ms).
    ++last_ms_;
    counter_ = 0;
  }
  JobId id;
  const auto ms = static_cast<std::uint64_t>(last_ms_);
  for (int i = 0; i < 6; ++i) id.bytes[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  id.bytes[6] = static_cast<std::uint8_t>(0x70 | ((counter_ >> 8) & 0x0f));
  id.bytes[7] = static_cast<std::uint8_t>(counter_ & 0xff);
  const std::uint64_t r = rng_();
  for (int i = 0; i < 8; ++i) id.bytes[8 + i] = static_cast<std::uint8_t>(r >> (56 - 8 * i));
  id.bytes[8] = static_cast<std::uint8_t>(0x80 | (id.bytes[8] & 0x3f));  // RFC 9562 variant
  return id;
}

}  // namespace errand
