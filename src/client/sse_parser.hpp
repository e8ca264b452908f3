// SseParser: the event-stream format of Server-Sent Events (WHATWG HTML
// section 9.2.6), fed in arbitrary chunks as they come off the connection.
//
// Not thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace errand::client_detail {

struct SseEvent {
  std::string id;    // the last `id:` seen so far (ids persist across events)
  std::string type;  // `event:`, "message" when absent
  std::string data;  // `data:` lines joined with '\n'
};

class SseParser {
 public:
  explicit SseParser(std::size_t max_line_bytes = 8u << 20) : max_line_(max_line_bytes) {}

  // Parses `chunk`, calling on_event for every event it completes. Returns
  // false as soon as on_event does (the rest of the chunk is dropped). Throws
  // errand::Error (kProtocol) on a line longer than the limit.
  bool feed(std::string_view chunk, const std::function<bool(const SseEvent&)>& on_event);

  [[nodiscard]] const std::string& last_event_id() const { return id_; }

 private:
  bool end_of_line(const std::function<bool(const SseEvent&)>& on_event);

  std::size_t max_line_;
  std::string line_;
  bool after_cr_ = false;  // a CR ended the last line; a LF right after it belongs to it
  bool first_line_ = true;
  std::string id_;
  std::string type_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace errand::client_detail
