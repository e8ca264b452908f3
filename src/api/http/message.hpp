// HTTP request and response values passed between the connection code
// (server.cpp, connection.cpp and disconnect_watch.cpp, the only files that
// see Beast) and the API handlers.
//
// Not thread-safe; a Request and its Response live on one connection strand.
// A Request outlives its Response, streamed or not: a stream may keep a
// reference to the Request it answers.
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

// The server's side of Request::client_gone(): watches one connection for its
// client going away. Handlers reach it through Request; the server implements it.
// Confined to the connection's strand.
class ClientWatch {
 public:
  // See Request::client_gone().
  virtual bool gone() = 0;
  // See Request::on_client_gone().
  virtual void on_gone(std::function<void()> wake) = 0;

 protected:
  ~ClientWatch() = default;  // not owned through this interface
};

struct Request {
  std::string method;  // upper case, e.g. "GET"
  std::string target;  // as received: path plus optional "?query"
  Headers headers;     // names as received; look up with header()
  std::string body;
  std::string remote;  // peer address, for logs
  // Set by the server, not owned; null in a Request built by hand (a test),
  // whose client never goes away.
  ClientWatch* client_watch = nullptr;

  // The value of the first header named `name` (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
  std::string_view path() const;   // target up to '?'
  std::string_view query() const;  // target after '?', or ""

  // Whether the client has closed or reset its connection since this request
  // was read: a waiting handler should stop waiting, and must not hand the
  // client anything it cannot give back (a lease). Until on_client_gone() is
  // called, each call peeks at the socket (one non-blocking system call), so a
  // handler that answers without asking or waiting costs nothing; afterwards
  // it reads what the watch found. Watching ends when the response is written,
  // and for good when the client sends more bytes (a pipelined request, left
  // in place for the next read): such a client is not reported gone, nor is
  // one that had pipelined before this request was read. A client that shut
  // down only its sending side otherwise counts as gone, as it does for nginx.
  bool client_gone() const { return client_watch != nullptr && client_watch->gone(); }

  // Starts watching the connection and calls `wake` once when the client
  // goes away: later on the connection's strand (never concurrently with the
  // handler), or at once, inside this call, when it is gone already. Replaces
  // an earlier registration. The server drops it when the handler returns, or
  // for a streamed response when the stream returns, so `wake` may refer to
  // their locals. It must be quick and must not throw: fire a Signal, post, set
  // a flag. Register right before waiting; check client_gone() right after.
  void on_client_gone(std::function<void()> wake) const {
    if (client_watch != nullptr) client_watch->on_gone(std::move(wake));
  }
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
  // The server watches for the client going away during the whole stream; a
  // stream that waits between writes should wake on Request::on_client_gone().
  std::function<boost::asio::awaitable<void>(EventSink&)> stream;

  Response& set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Handles one request. Runs on the connection's strand; may co_await.
using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

}  // namespace errand::http
