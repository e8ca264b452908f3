// One HTTP/1.1 keep-alive connection of the load generator: requests go one
// after another (no pipelining), the connection is opened on first use and
// again after the server closed it. Beast stays in http_connection.cpp, so
// the workloads compile against Asio's coroutine types only.
//
// Confined to the executor it was made with (bench runs one io_context
// thread).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace errand::bench {

// Where the server is, resolved once for all connections.
struct ServerAddress {
  std::string url;  // as given, for messages
  std::string ip;   // numeric
  std::uint16_t port = 0;
  std::string host_header;    // "host:port" as the URL gave it
  std::string authorization;  // "Bearer TOKEN", or empty
};

struct HttpResponse {
  int status = 0;  // 0: no answer, see error
  std::string body;
  std::string error;  // why no answer came: "Connection refused", "timed out after 30 s"
};

class HttpConnection {
 public:
  HttpConnection(const boost::asio::any_io_executor& executor, const ServerAddress& server);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Opens the connection unless it is open; returns the error, or empty.
  boost::asio::awaitable<std::string> connect();

  // Sends one request (a JSON body when `body` is not empty; a `Prefer`
  // header when `prefer` is not empty) and reads the answer, all within
  // `timeout`. A request in flight when close() is called ends with an error.
  boost::asio::awaitable<HttpResponse> request(std::string_view method, std::string_view target,
                                               std::string_view body, std::string_view prefer,
                                               std::chrono::milliseconds timeout);

  // Sends `GET target` asking for Server-Sent Events and reads the answer's
  // head within `timeout` (the response has a status or an error, no body).
  // After a 200 the stream is open: read_stream() holds it.
  boost::asio::awaitable<HttpResponse> open_stream(std::string_view target,
                                                   std::chrono::milliseconds timeout);
  // Reads and drops what an open stream sends until it ends, close() is
  // called or nothing came for `idle_timeout`; returns why it ended. The
  // connection is closed then.
  boost::asio::awaitable<std::string> read_stream(std::chrono::milliseconds idle_timeout);

  // Closes the connection; the next request opens a new one.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace errand::bench
