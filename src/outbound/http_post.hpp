// One HTTP POST from the server to another service (alert webhooks, the
// OpenTelemetry exporter), with libcurl: blocking, bounded by a timeout, and
// abortable from another thread. Connections are not reused: these posts are
// rare (alerts) or batched (spans), so a handle per post keeps this simple.
//
// Thread-safe: any number of threads may post at once.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace errand::outbound {

struct PostRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"; Content-Type included
  std::string_view body;
  std::chrono::milliseconds timeout{5000};
  // Polled about every second during the transfer (and more often while data
  // moves); returning true aborts it. Empty: never.
  std::function<bool()> should_abort;
};

struct PostResult {
  long status = 0;    // the HTTP status; 0 when no answer came (see error)
  std::string error;  // why no answer came
  // The answer's Retry-After (seconds, or an HTTP date turned into seconds).
  std::optional<std::chrono::seconds> retry_after;

  bool ok() const { return status >= 200 && status < 300; }
  // "HTTP 503" or the transport error, for log lines.
  std::string describe() const;
};

PostResult http_post(const PostRequest& request);

}  // namespace errand::outbound
