// The building blocks of the embedded store's binary records: unsigned
// LEB128 varints, zigzag varints for signed numbers, strings as a varint
// length then the bytes, doubles as their 8 IEEE-754 bytes (little-endian).
// Internal to store/embedded; docs/storage-format.md describes the records.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace errand::embedded::binary {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void byte(std::uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void flag(bool b) { byte(b ? 1 : 0); }
  // Most varints (flags, counts, lengths) take one byte; the others go into a
  // buffer first: one append, not a capacity check per byte (timestamps take
  // six bytes). A record has about twenty, and W2 encodes six a job.
  void uvarint(std::uint64_t v) {
    if (v < 0x80) return out_.push_back(static_cast<char>(v));
    char buf[10];
    std::size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_.append(buf, n);
  }
  void svarint(std::int64_t v) {
    uvarint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void text(std::string_view s) {
    uvarint(s.size());
    out_.append(s);
  }
  void fixed(std::string_view s) { out_.append(s); }  // a length both sides know
  void real(double d) {
    std::uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(u >> (8 * i));
    out_.append(buf, sizeof buf);
  }
  void optional(const std::optional<std::int64_t>& v) {
    flag(v.has_value());
    if (v) svarint(*v);
  }

 private:
  std::string& out_;
};

// Reads what Writer wrote. A read past the end or of a malformed value
// fails the reader: that read and every later one return zero values and
// ok() is false, so a decoder checks once at the end.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }

  std::uint8_t byte() {
    if (!ok_ || pos_ >= in_.size()) return fail(), 0;
    return static_cast<std::uint8_t>(in_[pos_++]);
  }
  bool flag() {
    const std::uint8_t b = byte();
    if (b > 1) fail();
    return b == 1;
  }
  std::uint64_t uvarint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = byte();
      if (!ok_) return 0;
      if (shift == 63 && b > 1) break;  // more than 64 bits
      v |= std::uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    return fail(), 0;
  }
  std::int64_t svarint() {
    const std::uint64_t u = uvarint();
    return static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
  }
  // A signed varint that must fit T.
  template <class T>
  T integer() {
    const std::int64_t v = svarint();
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return fail(), T{};
    return static_cast<T>(v);
  }
  std::string text() { return std::string(view(uvarint())); }
  std::string_view fixed(std::size_t n) { return view(n); }
  double real() {
    std::uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u |= std::uint64_t{byte()} << (8 * i);
    double d;
    std::memcpy(&d, &u, sizeof d);
    return d;
  }
  std::optional<std::int64_t> optional() {
    if (!flag()) return std::nullopt;
    return svarint();
  }

 private:
  std::string_view view(std::uint64_t n) {
    if (!ok_ || n > in_.size() - pos_) return fail(), std::string_view();
    const std::string_view v = in_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  void fail() { ok_ = false; }

  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace errand::embedded::binary
