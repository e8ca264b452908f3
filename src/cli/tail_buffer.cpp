#include "cli/tail_buffer.hpp"

#include "cli/json_text.hpp"

namespace errand::cli {

void TailBuffer::append(std::string_view bytes) {
  data_.append(bytes);
  if (data_.size() > 2 * capacity_) {
    // One byte more than shown: it tells whether the shown part starts a line.
    data_.erase(0, data_.size() - capacity_ - 1);
    truncated_ = true;
  }
}

std::string TailBuffer::text() const {
  if (data_.size() <= capacity_) return valid_utf8(data_);
  std::string_view kept = std::string_view(data_).substr(data_.size() - capacity_);
  const bool mid_line = data_[data_.size() - capacity_ - 1] != '\n';
  const auto newline = kept.find('\n');
  if (mid_line && newline != std::string_view::npos && newline + 1 < kept.size()) {
    kept.remove_prefix(newline + 1);
  } else {
    // No line boundary to start at: at least do not start inside a character.
    while (!kept.empty() && (static_cast<unsigned char>(kept.front()) & 0xC0) == 0x80) {
      kept.remove_prefix(1);
    }
  }
  return valid_utf8(kept);
}

void LineSplitter::feed(std::string_view bytes, const Sink& sink) {
  while (!bytes.empty()) {
    const auto newline = bytes.find('\n');
    const std::size_t room = max_line_ - partial_.size();
    if (newline != std::string_view::npos && newline <= room) {
      if (partial_.empty()) {
        sink(bytes.substr(0, newline));
      } else {
        partial_.append(bytes.substr(0, newline));
        sink(partial_);
        partial_.clear();
      }
      bytes.remove_prefix(newline + 1);
    } else if (newline == std::string_view::npos && bytes.size() <= room) {
      partial_.append(bytes);
      return;
    } else {
      partial_.append(bytes.substr(0, room));
      sink(partial_);
      partial_.clear();
      bytes.remove_prefix(room);
    }
  }
}

void LineSplitter::finish(const Sink& sink) {
  if (partial_.empty()) return;
  sink(partial_);
  partial_.clear();
}

}  // namespace errand::cli
