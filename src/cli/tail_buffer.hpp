// TailBuffer keeps the last bytes of a stream (a command's stderr) within a
// fixed bound, for the error of a failed attempt. LineSplitter cuts a byte
// stream into lines. Not thread-safe; pure.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace errand::cli {

class TailBuffer {
 public:
  // REQUIRES: capacity > 0.
  explicit TailBuffer(std::size_t capacity) : capacity_(capacity) {}

  void append(std::string_view bytes);
  // The kept text as valid UTF-8. Once bytes were dropped it starts at a line
  // boundary (when the kept part has one), so no half line leads it.
  [[nodiscard]] std::string text() const;
  [[nodiscard]] bool truncated() const { return truncated_ || data_.size() > capacity_; }
  [[nodiscard]] bool empty() const { return data_.empty(); }

 private:
  std::size_t capacity_;
  std::string data_;  // at most 2 * capacity_ bytes; trimmed lazily to amortise the erase
  bool truncated_ = false;
};

class LineSplitter {
 public:
  using Sink = std::function<void(std::string_view line)>;

  // Lines longer than `max_line` bytes are passed on in pieces of that size,
  // so that a command writing no newline cannot grow memory without bound.
  // REQUIRES: max_line > 0.
  explicit LineSplitter(std::size_t max_line) : max_line_(max_line) {}

  // Passes every complete line of `bytes` (without its '\n') to `sink`.
  void feed(std::string_view bytes, const Sink& sink);
  // Passes the last, unterminated line, if any.
  void finish(const Sink& sink);

 private:
  std::size_t max_line_;
  std::string partial_;
};

}  // namespace errand::cli
