// CurlTransport: HTTP/1.1 requests to one errand server over one libcurl easy
// handle, so consecutive requests reuse one keep-alive connection.
//
// Transfers run on a private multi handle polled in slices of at most
// kStopPollInterval, which is what lets the stop flag abandon a long poll or
// an event stream within about 100 ms (an easy_perform would only look at it
// about once a second while the connection is idle).
//
// Not thread-safe: one per Client.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace errand::client_detail {

inline constexpr std::chrono::milliseconds kStopPollInterval{50};

struct HttpRequest {
  std::string method;                    // GET, POST or DELETE
  std::string target;                    // path and query, already percent-encoded
  std::string body;                      // sent as application/json when not empty
  std::vector<std::string> headers;      // extra "Name: value" lines
  std::chrono::milliseconds timeout{0};  // the whole exchange; 0: no limit
  // For streams: the connection counts as dead after this long without a
  // byte. 0: no limit.
  std::chrono::milliseconds silence_limit{0};
  // When set, the body of a 2xx answer is handed over in chunks as it
  // arrives instead of being collected; returning false ends the transfer
  // (perform() then returns normally). Other answers are collected as usual.
  std::function<bool(std::string_view)> on_data;
};

struct HttpResponse {
  int status = 0;
  std::string reason;              // the status line's reason phrase, when given
  std::string content_type;        // lower-cased, parameters included
  std::string body;                // empty when streamed to on_data
  bool stopped_by_reader = false;  // on_data returned false
};

class CurlTransport {
 public:
  // `base_url` has no trailing slash. `stop` may be null. `ca_file`: the PEM
  // file of the CAs that https:// servers are verified against; empty: the system's.
  CurlTransport(std::string base_url, std::chrono::milliseconds connect_timeout,
                const std::atomic<bool>* stop, std::string ca_file = {});
  ~CurlTransport();
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  [[nodiscard]] const std::string& base_url() const { return base_url_; }

  // Performs one exchange. Throws errand::Error of kind kTransport (no
  // complete answer; the message names the server's URL) or kStopped.
  // Exceptions thrown by on_data are rethrown as they are.
  HttpResponse perform(const HttpRequest& request);

 private:
  struct Handles;
  std::string base_url_;
  std::chrono::milliseconds connect_timeout_;
  const std::atomic<bool>* stop_;
  std::string ca_file_;
  std::unique_ptr<Handles> handles_;
};

}  // namespace errand::client_detail
