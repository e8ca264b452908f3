// HTTP request and response values passed between the connection code
// (server.cpp and connection.cpp, the only files that see Beast) and the API handlers.
//
// Not thread-safe; a Request and its Response live on one connection strand.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace errand::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // upper case, e.g. "GET"
  std::string target;  // as received: path plus optional "?query"
  Headers headers;     // names as received; look up with header()
  std::string body;
  std::string remote;  // peer address, for logs

  // The value of the first header named `name` (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
  std::string_view path() const;   // target up to '?'
  std::string_view query() const;  // target after '?', or ""
};

// Where a streaming response (Server-Sent Events) writes its chunks.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Writes `chunk` to the client. Returns false once the client is gone or
  // the server is stopping: the stream must end then.
  virtual boost::asio::awaitable<bool> write(std::string chunk) = 0;
};

struct Response {
  int status = 200;
  Headers headers;  // Content-Type defaults to application/json when body is set
  std::string body;
  // When set, the response is streamed: the headers are sent with chunked
  // transfer encoding, then `stream` writes the body and returns when done.
  std::function<boost::asio::awaitable<void>(EventSink&)> stream;

  Response& set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Handles one request. Runs on the connection's strand; may co_await.
using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

}  // namespace errand::http
