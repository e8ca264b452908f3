// Internal to errand_http: one connection's life over a stream — plain TCP
// (beast::tcp_stream) or TLS (TlsStream) — reading requests under the limits,
// refusing bad framing, calling the handler, writing responses and streams,
// closing.
//
// The code is one template for both streams, so that the framing rules cannot
// drift apart; it is instantiated in two files only: connection.cpp (plain)
// and tls_connection.cpp (TLS, the only one that sees OpenSSL). The plain
// instantiation is the code as it would be without TLS: the differences are
// `if constexpr`.
#pragma once

#include "api/http/disconnect_watch.hpp"
#include "api/http/head_scanner.hpp"
#include "api/http/problem.hpp"
#include "api/http/request_parser.hpp"
#include "api/http/server_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace boost::beast {
template <class NextLayer>
class ssl_stream;
}  // namespace boost::beast

namespace errand::http::detail {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Impl = Server::Impl;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
class TlsDisconnectWatch;  // tls_watch.hpp

template <class Stream>
inline constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

inline constexpr auto kTuple = net::as_tuple(net::use_awaitable);
inline constexpr std::size_t kReadChunk = 8 * 1024;

inline DisconnectWatch make_watch(PlainStream& stream, beast::flat_buffer&) {
  return DisconnectWatch(stream.socket());
}
TlsDisconnectWatch make_watch(TlsStream& stream, beast::flat_buffer& buffer);

// One accepted connection. Confined to the strand of `stream`.
template <class Stream>
struct StreamConnection final : Connection {
  using Watch = std::conditional_t<kIsTls<Stream>, TlsDisconnectWatch, DisconnectWatch>;

  // `buffer_limit` bounds what a request may make us hold beyond its body:
  // a head, or a chunk-size line with endless extensions (Beast bounds neither
  // by itself once the head is parsed). `args` follow the socket into
  // Stream's constructor (TLS: the ssl context).
  template <class... Args>
  StreamConnection(tcp::socket socket, std::size_t buffer_limit, Args&&... args)
      : Connection(socket.get_executor()),
        stream(std::move(socket), std::forward<Args>(args)...),
        buffer(buffer_limit) {}

  void close_now() override {
    auto& tcp_stream = beast::get_lowest_layer(stream);
    error_code ignored;
    tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_stream.close();
  }

  void wake_idle() override { beast::get_lowest_layer(stream).cancel(); }

  void start(std::shared_ptr<Impl> server) override;

  Stream stream;
  beast::flat_buffer buffer;
  // The client_watch of each request; one per connection, so a request costs no allocation.
  Watch watch{make_watch(stream, buffer)};
};

// What reading one request produced, when the connection is still there.
struct Incoming {
  std::optional<Request> request;  // set: hand it to the handler
  int refusal = 0;                 // else: answer problem(refusal, detail) and close
  std::string detail;
  unsigned version = 11;
  bool keep_alive = false;
  bool head = false;
};

// --- Stream-independent pieces (connection.cpp) ---

std::size_t buffer_limit(const ServerLimits& limits);
Incoming refuse(int status, std::string detail);
bool iequals(std::string_view a, std::string_view b);
std::string_view trim(std::string_view s);
std::string format_endpoint(const tcp::endpoint& endpoint);
// RFC 9112 2.2: a server SHOULD ignore at least one empty line before a
// request line (some clients send CRLF after a POST body). Returns whether it dropped any.
bool drop_leading_empty_lines(beast::flat_buffer& buffer);
// A refusal for a head Beast could not parse (`ec`), given its bytes.
Incoming refuse_head(const error_code& ec, std::string_view head, const ServerLimits& limits);
// The checks Beast leaves to us on a parsed head (see connection.cpp).
std::optional<Incoming> check_framing(const RequestParser& parser);
// A refusal for a body Beast could not parse, or nullopt when `ec` is no
// parse error (the connection is gone).
std::optional<Incoming> refuse_body(const error_code& ec, const ServerLimits& limits,
                                    bool extensions_over_limit);
// Whether the unparsed rest of a chunked body (chunk-size lines and trailers:
// Beast consumes chunk data as it comes) has a line ending in a bare LF,
// which Beast would wait on forever instead of refusing.
bool has_bare_lf(std::string_view unparsed);
// Copies the handler's headers, leaving out framing, which is the server's
// business. Returns false when the handler asked to close the connection.
bool copy_headers(const Headers& from, bhttp::fields& to);
// RFC 9110 8.6 and 15.3.5: 204 and 304 never have content, nor Content-Length.
inline bool has_content(int status) { return status != 204 && status != 304; }
// The status line and headers of a response whose body is `body_size` bytes
// (written by hand: Beast's serializer cost a tenth of a small request).
// `keep_alive` in: whether the connection may stay; out: whether it does.
std::string response_head(int status, const Headers& headers, std::size_t body_size,
                          unsigned version, bool& keep_alive);
net::awaitable<Response> call_handler(const Impl& server, Request& request);

// --- Stream-specific steps (connection.cpp for plain, tls_connection.cpp for TLS) ---

// Shuts down our side, then reads what the client still sends until it
// closes too or the linger time passes: closing with unread data makes the
// kernel send RST, which can destroy the response before the client reads it.
net::awaitable<void> close_gracefully(PlainStream& stream);
// The same after a TLS close_notify.
net::awaitable<void> close_gracefully(TlsStream& stream);
// The TLS handshake, bounded by the header timeout. False: the connection is over.
net::awaitable<bool> handshake(const Impl& server, StreamConnection<TlsStream>& conn);

// --- The template ---

// Removes the connection from the registry when its coroutine ends, however it
// ends. Ends a watch left pending too: its peek would keep the connection alive.
struct ForgetOnExit {
  Impl& server;
  Connection& conn;
  DisconnectWatch& watch;
  ~ForgetOnExit() {
    watch.end_request();
    server.forget(&conn);
  }
};

// Whether bytes the server has not read yet wait in the socket.
inline bool bytes_waiting(beast::tcp_stream& tcp_stream) {
  error_code ec;
  const std::size_t n = tcp_stream.socket().available(ec);
  return !ec && n > 0;
}

// Reads the next request. Returns nullopt when the connection is over without
// anything to answer: the peer closed, a deadline passed (the stream closed
// the socket), the server closed it, or it is idle while the server drains
// (and no request has begun to arrive: one that has is read and served).
// `head_deadline`: when the head must be complete, for a first request; later
// ones wait up to the idle timeout for their first byte.
template <class Stream>
net::awaitable<std::optional<Incoming>> read_request(
    const Impl& server, StreamConnection<Stream>& conn,
    std::optional<Clock::time_point> head_deadline) {
  const ServerLimits& limits = server.limits;
  auto& buffer = conn.buffer;
  auto& tcp_stream = beast::get_lowest_layer(conn.stream);
  HeadScanner scanner;
  HeadScanner::Result scan{HeadScanner::State::kNeedMore, 0};
  for (;;) {
    if (drop_leading_empty_lines(buffer)) scanner.reset();
    if (buffer.size() > 0) {
      if (!head_deadline) head_deadline = Clock::now() + limits.header_timeout;
      scan = scanner.scan({static_cast<const char*>(buffer.data().data()), buffer.size()});
      if (scan.state != HeadScanner::State::kNeedMore) break;
      if (buffer.size() >= limits.max_header_bytes) {
        co_return refuse(
            431, "request header exceeds " + std::to_string(limits.max_header_bytes) + " bytes");
      }
    }
    conn.idle = buffer.size() == 0;
    if (conn.idle && server.stopping() && !bytes_waiting(tcp_stream)) co_return std::nullopt;
    tcp_stream.expires_at(head_deadline ? *head_deadline : Clock::now() + limits.idle_timeout);
    auto [ec, n] = co_await conn.stream.async_read_some(buffer.prepare(kReadChunk), kTuple);
    conn.idle = false;
    // Woken by the drain (wake_idle): look again whether a request is arriving.
    if (ec == net::error::operation_aborted && server.stopping() && buffer.size() == 0) continue;
    if (ec) co_return std::nullopt;
    buffer.commit(n);
  }
  switch (scan.state) {
    case HeadScanner::State::kBareLf:
      co_return refuse(400, "lines must end with CRLF");
    case HeadScanner::State::kObsFold:
      co_return refuse(400, "obsolete line folding (obs-fold) is not accepted");
    default:
      break;
  }
  if (scan.head_size > limits.max_header_bytes) {
    co_return refuse(
        431, "request header exceeds " + std::to_string(limits.max_header_bytes) + " bytes");
  }

  RequestParser parser;
  // The scan enforced the header limit already; Beast's own check stays as a backstop.
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(limits.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
  parser.eager(true);
  error_code ec;
  const std::string_view head(static_cast<const char*>(buffer.data().data()), scan.head_size);
  // The request line, a line a field (the scan refused obs-fold), the empty line.
  std::size_t lines = 0;
  for (auto at = head.find('\n'); at != std::string_view::npos; at = head.find('\n', at + 1)) {
    ++lines;
  }
  parser.expect_fields(lines > 2 ? lines - 2 : 0);
  const auto used = parser.put(net::const_buffer(head.data(), head.size()), ec);
  if (ec) co_return refuse_head(ec, head, limits);
  buffer.consume(used);
  // The scanner found the empty line that ends the head, so Beast parsed all of it.
  if (!parser.is_header_done()) co_return refuse(400, "malformed request header");

  if (auto refusal = check_framing(parser)) co_return std::move(*refusal);

  if (!parser.is_done()) {
    const auto expect = parser.request().header("expect");
    if (parser.version() == 11 && expect && iequals(trim(*expect), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      tcp_stream.expires_after(limits.write_timeout);
      auto [wec, wn] = co_await net::async_write(conn.stream, net::buffer(kContinue), kTuple);
      if (wec) co_return std::nullopt;
    }
    // The body, by hand rather than with http::async_read, to refuse what
    // Beast would only wait on (see has_bare_lf).
    tcp_stream.expires_after(limits.body_timeout);
    for (;;) {
      if (buffer.size() > 0) {
        buffer.consume(parser.put(buffer.data(), ec));
        if (ec == bhttp::error::need_more) {
          ec = {};
          if (has_bare_lf({static_cast<const char*>(buffer.data().data()), buffer.size()})) {
            co_return refuse(400, "lines of a chunked body must end with CRLF");
          }
        }
        if (ec) {
          co_return refuse_body(ec, limits, parser.extensions_over_limit())
              .value_or(refuse(400, "malformed request body"));
        }
        if (parser.is_done()) break;
      }
      const std::size_t room = buffer.max_size() - buffer.size();
      if (room == 0) co_return refuse(400, "a chunk-size line or trailer is too long");
      // As much as the buffer takes (a head and a read chunk): a large body
      // comes in few reads.
      auto [rec, rn] = co_await conn.stream.async_read_some(buffer.prepare(room), kTuple);
      if (rec) {
        // The client ended its side mid-body: nobody to answer.
        co_return std::nullopt;
      }
      buffer.commit(rn);
    }
  }
  tcp_stream.expires_never();

  Incoming in;
  in.version = parser.version();
  in.keep_alive = parser.keep_alive();
  in.head = parser.is_head_method();
  in.request = std::move(parser.request());
  in.request->remote = conn.remote;
  in.request->client_watch = &conn.watch;
  co_return in;
}

// Where a streamed response writes: each write is one chunk, bounded by the
// write timeout. Confined to the connection's strand; one write at a time.
template <class Stream>
class ChunkSink final : public EventSink {
 public:
  // `watch` may be null: nobody watches for the client going away.
  ChunkSink(const Impl& server, Stream& stream, bool chunked, const DisconnectWatch* watch)
      : server_(server), stream_(stream), chunked_(chunked), watch_(watch) {}

  net::awaitable<bool> write(std::string chunk) override {
    if (broken_ || stopped_) co_return false;
    if (watch_ != nullptr && watch_->noticed_gone()) {
      broken_ = true;
      co_return false;
    }
    if (server_.stopping()) {
      stopped_ = true;
      co_return false;
    }
    if (chunk.empty()) co_return true;  // an empty chunk would end the body
    auto& tcp_stream = beast::get_lowest_layer(stream_);
    tcp_stream.expires_after(server_.limits.write_timeout);
    error_code ec;
    if (chunked_) {
      std::tie(ec, std::ignore) =
          co_await net::async_write(stream_, bhttp::make_chunk(net::buffer(chunk)), kTuple);
    } else {
      std::tie(ec, std::ignore) = co_await net::async_write(stream_, net::buffer(chunk), kTuple);
    }
    // A stream may stay quiet for minutes between events: no deadline then.
    tcp_stream.expires_never();
    if (ec) broken_ = true;
    co_return !ec;
  }

  bool broken() const { return broken_; }
  bool stopped() const { return stopped_; }

 private:
  const Impl& server_;
  Stream& stream_;
  const bool chunked_;
  const DisconnectWatch* const watch_;
  bool broken_ = false;
  bool stopped_ = false;
};

// Writes `response`, consuming its body and stream. Returns whether the
// connection may carry another request. `watch` (may be null) watches for the
// client going away during a stream.
template <class Stream>
net::awaitable<bool> write_response(const Impl& server, Stream& stream, Response& response,
                                    unsigned version, bool keep_alive, bool head_only,
                                    DisconnectWatch* watch) {
  const auto timeout = server.limits.write_timeout;
  auto& tcp_stream = beast::get_lowest_layer(stream);
  if (response.stream) {
    bhttp::response<bhttp::empty_body> res;
    res.version(version);
    res.result(static_cast<unsigned>(response.status));
    keep_alive = copy_headers(response.headers, res) && keep_alive;
    res.set(bhttp::field::server, "errand");
    // HTTP/1.0 has no chunked encoding: the end of the body is the end of the connection.
    const bool chunked = version >= 11;
    if (chunked) {
      res.chunked(true);
    } else {
      keep_alive = false;
    }
    res.keep_alive(keep_alive);
    bhttp::response_serializer<bhttp::empty_body> serializer{res};
    tcp_stream.expires_after(timeout);
    auto [ec, n] = co_await bhttp::async_write_header(stream, serializer, kTuple);
    tcp_stream.expires_never();
    if (ec) co_return false;
    if (head_only) co_return keep_alive;

    ChunkSink<Stream> sink{server, stream, chunked, watch};
    // A stream may stay quiet for minutes: notice meanwhile a client that leaves.
    if (watch != nullptr) watch->start();
    bool failed = false;
    try {
      co_await response.stream(sink);
    } catch (const std::exception& e) {
      log_error(std::string("response stream failed: ") + e.what());
      failed = true;
    }
    if (watch != nullptr) watch->forget_wake();  // it may refer to the stream's locals
    // A chunked body cut short tells the client it is incomplete.
    if (failed || sink.broken()) co_return false;
    if (chunked) {
      tcp_stream.expires_after(timeout);
      auto [lec, ln] = co_await net::async_write(stream, bhttp::make_chunk_last(), kTuple);
      tcp_stream.expires_never();
      if (lec) co_return false;
    }
    co_return keep_alive && !sink.stopped();
  }

  if (!has_content(response.status)) response.body.clear();
  const std::string head =
      response_head(response.status, response.headers, response.body.size(), version, keep_alive);
  tcp_stream.expires_after(timeout);
  error_code ec;
  if (head_only || response.body.empty()) {
    std::tie(ec, std::ignore) = co_await net::async_write(stream, net::buffer(head), kTuple);
  } else {
    const std::array<net::const_buffer, 2> parts{net::buffer(head), net::buffer(response.body)};
    std::tie(ec, std::ignore) = co_await net::async_write(stream, parts, kTuple);
  }
  tcp_stream.expires_never();
  co_return !ec && keep_alive;
}

// Serves the requests of `conn` until it closes, then forgets it. Runs on its strand.
template <class Stream>
net::awaitable<void> serve(std::shared_ptr<Impl> server,
                           std::shared_ptr<StreamConnection<Stream>> conn) {
  const ForgetOnExit forget{*server, *conn, conn->watch};
  conn->watch.set_owner(conn);
  auto& tcp_stream = beast::get_lowest_layer(conn->stream);
  error_code ec;
  const auto peer = tcp_stream.socket().remote_endpoint(ec);
  conn->remote = ec ? "unknown" : format_endpoint(peer);
  // A client that connects and sends nothing is cut at the header timeout.
  std::optional<Clock::time_point> head_deadline = conn->accepted + server->limits.header_timeout;
  if constexpr (kIsTls<Stream>) {
    if (!co_await handshake(*server, *conn)) {
      tcp_stream.close();
      co_return;
    }
    head_deadline = Clock::now() + server->limits.header_timeout;
  }
  for (;;) {
    auto incoming = co_await read_request(*server, *conn, std::exchange(head_deadline, {}));
    if (!incoming) break;
    if (incoming->refusal != 0) {
      Response refusal = problem(incoming->refusal, incoming->detail);
      co_await write_response(*server, conn->stream, refusal, incoming->version, false, false,
                              nullptr);
      co_await close_gracefully(conn->stream);
      co_return;
    }
    // Empty lines after a body are no request (read_request would drop them next).
    drop_leading_empty_lines(conn->buffer);
    conn->watch.begin_request(conn->buffer.size() > 0);
    // A handler may wait for minutes (long polls, Prefer: wait): hand the
    // empty read buffer back rather than hold 8 KiB per waiting connection.
    if (conn->buffer.size() == 0) conn->buffer.shrink_to_fit();
    Response response = co_await call_handler(*server, *incoming->request);
    conn->watch.forget_wake();  // it may refer to the handler's locals
    // Checked after the handler: an answer given while draining, or to a
    // client that left, closes the connection.
    const bool keep_alive =
        incoming->keep_alive && !server->stopping() && !conn->watch.noticed_gone();
    const bool reusable =
        co_await write_response(*server, conn->stream, response, incoming->version, keep_alive,
                                incoming->head, &conn->watch);
    const bool gone = conn->watch.noticed_gone();
    // Before anything reads the stream again.
    if constexpr (kIsTls<Stream>) {
      co_await conn->watch.end_request_and_settle();
    } else {
      conn->watch.end_request();
    }
    if (!reusable || gone) {
      co_await close_gracefully(conn->stream);
      co_return;
    }
  }
  // Draining, a request may arrive as the connection closes: it is not
  // served, but reading it out keeps the close a FIN the client's HTTP stack
  // understands (the request was not carried out) instead of a reset.
  if (server->stopping()) {
    co_await close_gracefully(conn->stream);
  } else {
    tcp_stream.close();
  }
}

template <class Stream>
void StreamConnection<Stream>::start(std::shared_ptr<Impl> server) {
  auto self = std::static_pointer_cast<StreamConnection>(shared_from_this());
  net::co_spawn(executor, serve<Stream>(std::move(server), std::move(self)), log_exception);
}

}  // namespace errand::http::detail
