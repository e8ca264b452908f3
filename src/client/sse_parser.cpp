#include "client/sse_parser.hpp"

#include "errand/client.hpp"

namespace errand::client_detail {

bool SseParser::feed(std::string_view chunk, const std::function<bool(const SseEvent&)>& on_event) {
  for (const char c : chunk) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      if (!end_of_line(on_event)) return false;
      continue;
    }
    if (line_.size() >= max_line_) {
      throw Error(Error::Kind::kProtocol, 0,
                  "an event-stream line is longer than " + std::to_string(max_line_) + " bytes");
    }
    line_ += c;
  }
  return true;
}

bool SseParser::end_of_line(const std::function<bool(const SseEvent&)>& on_event) {
  std::string_view line = line_;
  if (first_line_) {
    first_line_ = false;
    if (line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
  }
  if (line.empty()) {
    // A blank line dispatches; one with no data only resets the type.
    bool go_on = true;
    if (has_data_) {
      SseEvent ev{id_, type_.empty() ? "message" : type_, std::move(data_)};
      go_on = on_event(ev);
    }
    data_.clear();
    type_.clear();
    has_data_ = false;
    line_.clear();
    return go_on;
  }
  if (line.front() != ':') {  // ':' starts a comment (the server's keep-alive)
    const auto colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
      value = line.substr(colon + 1);
      if (value.starts_with(' ')) value.remove_prefix(1);
    }
    if (field == "data") {
      if (has_data_) data_ += '\n';
      data_.append(value);
      has_data_ = true;
    } else if (field == "event") {
      type_ = std::string(value);
    } else if (field == "id") {
      if (value.find('\0') == std::string_view::npos) id_ = std::string(value);
    }
    // `retry:` and unknown fields are ignored: reconnection is Client's policy.
  }
  line_.clear();
  return true;
}

}  // namespace errand::client_detail
