// One connection's life: reading requests under the limits, refusing bad
// framing, calling the handler, writing responses and streams, closing.
#include "api/http/head_scanner.hpp"
#include "api/http/problem.hpp"
#include "api/http/server_impl.hpp"
#include "logging/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>

namespace errand::http::detail {

namespace bhttp = boost::beast::http;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Impl = Server::Impl;

constexpr std::size_t kReadChunk = 8 * 1024;

std::size_t buffer_limit(const ServerLimits& limits) {
  return limits.max_header_bytes + kReadChunk;
}

void log_error(const std::string& what) { log::error("http: " + what); }

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// After the last response, read and drop what the client still sends (the
// rest of a refused body, pipelined requests) for this long before closing:
// closing with unread data makes the kernel send RST, which can destroy the
// response before the client reads it.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 1024 * 1024;

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

bool contains_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string format_endpoint(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  }
  const auto port = std::to_string(endpoint.port());
  return address.is_v6() ? "[" + address.to_string() + "]:" + port
                         : address.to_string() + ":" + port;
}

// Removes the connection from the registry when its coroutine ends, however it
// ends. Ends a watch left pending too: its peek would keep the connection alive.
struct ForgetOnExit {
  Impl& server;
  Connection& conn;
  ~ForgetOnExit() {
    conn.watch.end_request();
    server.forget(&conn);
  }
};

struct DecrementOnExit {
  std::atomic<std::size_t>& counter;
  ~DecrementOnExit() { --counter; }
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

Incoming refuse(int status, std::string detail) {
  Incoming in;
  in.refusal = status;
  in.detail = std::move(detail);
  return in;
}

bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

// RFC 9112 2.2: a server SHOULD ignore at least one empty line before a
// request line (some clients send CRLF after a POST body). Returns whether it dropped any.
bool drop_leading_empty_lines(beast::flat_buffer& buffer) {
  bool dropped = false;
  for (;;) {
    const auto data = buffer.data();
    const auto* bytes = static_cast<const char*>(data.data());
    if (data.size() < 2 || bytes[0] != '\r' || bytes[1] != '\n') return dropped;
    buffer.consume(2);
    dropped = true;
  }
}

// The checks Beast 1.81 leaves to us (it refuses Content-Length with
// Transfer-Encoding: chunked, but not with other codings; it accepts repeated
// equal lengths, "5, 5", any coding list, and a missing Host).
std::optional<Incoming> check_framing(const bhttp::request<bhttp::string_body>& req, bool chunked) {
  const auto lengths = req.count(bhttp::field::content_length);
  const auto codings = req.count(bhttp::field::transfer_encoding);
  if (lengths > 0 && codings > 0) {
    return refuse(400, "a request must not have both Content-Length and Transfer-Encoding");
  }
  if (lengths > 1) return refuse(400, "more than one Content-Length");
  if (lengths == 1) {
    const auto value = view(req[bhttp::field::content_length]);
    if (value.empty() || !std::ranges::all_of(value, [](char c) { return c >= '0' && c <= '9'; })) {
      return refuse(400, "Content-Length must be a single decimal number");
    }
  }
  if (codings > 0) {
    const bool only_chunked =
        codings == 1 && iequals(trim(view(req[bhttp::field::transfer_encoding])), "chunked");
    if (!only_chunked) {
      // RFC 9112 6.1 and 6.3: an unknown coding is 501, a body without a final
      // chunked coding has no knowable length and is 400.
      return chunked ? refuse(501, "the only supported Transfer-Encoding is chunked")
                     : refuse(400, "Transfer-Encoding must end with chunked");
    }
  }
  if (req.version() >= 11 && req.count(bhttp::field::host) != 1) {
    return refuse(400, "an HTTP/1.1 request must have exactly one Host header");
  }
  return std::nullopt;
}

Request to_request(bhttp::request<bhttp::string_body>& req, const std::string& remote) {
  Request out;
  out.method = std::string(view(req.method_string()));
  std::ranges::transform(out.method, out.method.begin(), ascii_upper);
  out.target = std::string(view(req.target()));
  out.headers.reserve(static_cast<std::size_t>(std::distance(req.begin(), req.end())));
  for (const auto& field : req) {
    out.headers.emplace_back(std::string(view(field.name_string())),
                             std::string(view(field.value())));
  }
  out.body = std::move(req.body());
  out.remote = remote;
  return out;
}

// Reads the next request. Returns nullopt when the connection is over without
// anything to answer: the peer closed, a deadline passed (the stream closed
// the socket), the server closed it, or it is idle while the server drains.
net::awaitable<std::optional<Incoming>> read_request(const Impl& server, Connection& conn) {
  const ServerLimits& limits = server.limits;
  auto& buffer = conn.buffer;
  HeadScanner scanner;
  HeadScanner::Result scan{HeadScanner::State::kNeedMore, 0};
  std::optional<Clock::time_point> head_deadline;
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
    if (conn.idle && server.stopping()) co_return std::nullopt;
    conn.stream.expires_at(head_deadline ? *head_deadline : Clock::now() + limits.idle_timeout);
    auto [ec, n] = co_await conn.stream.async_read_some(buffer.prepare(kReadChunk), kTuple);
    conn.idle = false;
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

  bhttp::request_parser<bhttp::string_body> parser;
  // The scan enforced the header limit already; Beast's own check stays as a backstop.
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(limits.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
  error_code ec;
  const auto used = parser.put(net::const_buffer(buffer.data().data(), scan.head_size), ec);
  buffer.consume(used);
  if (ec == bhttp::error::body_limit) {
    co_return refuse(413,
                     "request body exceeds " + std::to_string(limits.max_body_bytes) + " bytes");
  }
  if (ec == bhttp::error::header_limit) {
    co_return refuse(
        431, "request header exceeds " + std::to_string(limits.max_header_bytes) + " bytes");
  }
  if (ec) co_return refuse(400, "malformed request: " + ec.message());
  // The scanner found the empty line that ends the head, so Beast parsed all of it.
  if (!parser.is_header_done()) co_return refuse(400, "malformed request header");

  auto& req = parser.get();
  if (auto refusal = check_framing(req, parser.chunked())) co_return std::move(*refusal);

  if (!parser.is_done()) {
    if (req.version() == 11 && iequals(trim(view(req[bhttp::field::expect])), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      conn.stream.expires_after(limits.write_timeout);
      auto [wec, wn] = co_await net::async_write(conn.stream, net::buffer(kContinue), kTuple);
      if (wec) co_return std::nullopt;
    }
    conn.stream.expires_after(limits.body_timeout);
    auto [rec, rn] = co_await bhttp::async_read(conn.stream, buffer, parser, kTuple);
    if (rec == bhttp::error::body_limit) {
      co_return refuse(413,
                       "request body exceeds " + std::to_string(limits.max_body_bytes) + " bytes");
    }
    if (is_parse_error(rec)) co_return refuse(400, "malformed request body: " + rec.message());
    if (rec) co_return std::nullopt;
  }
  conn.stream.expires_never();

  Incoming in;
  in.version = req.version();
  in.keep_alive = parser.keep_alive();
  in.head = req.method() == bhttp::verb::head;
  in.request = to_request(req, conn.remote);
  in.request->client_watch = &conn.watch;
  co_return in;
}

// Copies the handler's headers, leaving out framing, which is the server's
// business. Returns false when the handler asked to close the connection.
bool copy_headers(const Headers& from, bhttp::fields& to) {
  bool keep = true;
  for (const auto& [name, value] : from) {
    const auto unsafe = [](char c) { return c == '\r' || c == '\n' || c == '\0'; };
    if (name.empty() || std::ranges::any_of(name, unsafe) || std::ranges::any_of(value, unsafe) ||
        name.find_first_of(": \t") != std::string::npos) {
      log_error("dropped an invalid response header: " + name);  // would split the response
      continue;
    }
    if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding")) continue;
    if (iequals(name, "Connection")) {
      if (contains_token(value, "close")) keep = false;
      continue;
    }
    to.insert(name, value);
  }
  return keep;
}

// Where a streamed response writes: each write is one chunk, bounded by the
// write timeout. Confined to the connection's strand; one write at a time.
class ChunkSink final : public EventSink {
 public:
  // `watch` may be null: nobody watches for the client going away.
  ChunkSink(const Impl& server, beast::tcp_stream& stream, bool chunked,
            const DisconnectWatch* watch)
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
    stream_.expires_after(server_.limits.write_timeout);
    error_code ec;
    if (chunked_) {
      std::tie(ec, std::ignore) =
          co_await net::async_write(stream_, bhttp::make_chunk(net::buffer(chunk)), kTuple);
    } else {
      std::tie(ec, std::ignore) = co_await net::async_write(stream_, net::buffer(chunk), kTuple);
    }
    // A stream may stay quiet for minutes between events: no deadline then.
    stream_.expires_never();
    if (ec) broken_ = true;
    co_return !ec;
  }

  bool broken() const { return broken_; }
  bool stopped() const { return stopped_; }

 private:
  const Impl& server_;
  beast::tcp_stream& stream_;
  const bool chunked_;
  const DisconnectWatch* const watch_;
  bool broken_ = false;
  bool stopped_ = false;
};

// Writes `response`. Returns whether the connection may carry another request.
// `watch` (may be null) watches for the client going away during a stream.
net::awaitable<bool> write_response(const Impl& server, beast::tcp_stream& stream,
                                    Response response, unsigned version, bool keep_alive,
                                    bool head_only, DisconnectWatch* watch) {
  const auto timeout = server.limits.write_timeout;
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
    stream.expires_after(timeout);
    auto [ec, n] = co_await bhttp::async_write_header(stream, serializer, kTuple);
    stream.expires_never();
    if (ec) co_return false;
    if (head_only) co_return keep_alive;

    ChunkSink sink{server, stream, chunked, watch};
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
      stream.expires_after(timeout);
      auto [lec, ln] = co_await net::async_write(stream, bhttp::make_chunk_last(), kTuple);
      stream.expires_never();
      if (lec) co_return false;
    }
    co_return keep_alive && !sink.stopped();
  }

  bhttp::response<bhttp::string_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(response.status));
  keep_alive = copy_headers(response.headers, res) && keep_alive;
  res.set(bhttp::field::server, "errand");
  // RFC 9110 8.6 and 15.3.5: these never have content, nor Content-Length.
  if (response.status != 204 && response.status != 304) {
    if (!response.body.empty() && res.count(bhttp::field::content_type) == 0) {
      res.set(bhttp::field::content_type, "application/json");
    }
    res.body() = std::move(response.body);
    res.prepare_payload();
  }
  res.keep_alive(keep_alive);
  bhttp::response_serializer<bhttp::string_body> serializer{res};
  stream.expires_after(timeout);
  error_code ec;
  if (head_only) {
    std::tie(ec, std::ignore) = co_await bhttp::async_write_header(stream, serializer, kTuple);
  } else {
    std::tie(ec, std::ignore) = co_await bhttp::async_write(stream, serializer, kTuple);
  }
  stream.expires_never();
  co_return !ec && keep_alive;
}

// Shuts down our side, then reads what the client still sends until it
// closes too or the linger time passes (see kLingerTime).
net::awaitable<void> linger_close(beast::tcp_stream& stream) {
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    stream.expires_after(kLingerTime);
    std::array<char, 4096> sink;
    std::size_t discarded = 0;
    while (discarded < kLingerBytes) {
      auto [rec, n] = co_await stream.async_read_some(net::buffer(sink), kTuple);
      if (rec) break;
      discarded += n;
    }
  }
  stream.close();
}

net::awaitable<Response> call_handler(const Impl& server, Request& request) {
  std::string failure;
  try {
    Response response = co_await server.handler(request);
    if (response.status >= 200 && response.status <= 599) co_return response;
    failure = "answered status " + std::to_string(response.status);
  } catch (const std::exception& e) {
    failure = std::string("threw: ") + e.what();
  } catch (...) {
    failure = "threw a non-standard exception";
  }
  log_error("handler for " + request.method + " " + std::string(request.path()) + " " + failure);
  co_return problem(500, "internal error");
}

}  // namespace

net::awaitable<void> serve(std::shared_ptr<Impl> server, std::shared_ptr<Connection> conn) {
  const ForgetOnExit forget{*server, *conn};
  conn->watch.set_owner(conn);
  error_code ec;
  const auto peer = conn->stream.socket().remote_endpoint(ec);
  conn->remote = ec ? "unknown" : format_endpoint(peer);
  for (;;) {
    auto incoming = co_await read_request(*server, *conn);
    if (!incoming) break;
    if (incoming->refusal != 0) {
      co_await write_response(*server, conn->stream, problem(incoming->refusal, incoming->detail),
                              incoming->version, false, false, nullptr);
      co_await linger_close(conn->stream);
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
        co_await write_response(*server, conn->stream, std::move(response), incoming->version,
                                keep_alive, incoming->head, &conn->watch);
    const bool gone = conn->watch.noticed_gone();
    conn->watch.end_request();  // before anything reads the socket again
    if (!reusable || gone) {
      co_await linger_close(conn->stream);
      co_return;
    }
  }
  conn->stream.close();
}

net::awaitable<void> turn_away(std::shared_ptr<Impl> server, tcp::socket socket) {
  const DecrementOnExit done{server->rejecting};
  beast::tcp_stream stream(std::move(socket));
  auto response = problem(503, "too many connections, retry later");
  response.set("Retry-After", "1");
  co_await write_response(*server, stream, std::move(response), 11, false, false, nullptr);
  co_await linger_close(stream);
}

}  // namespace errand::http::detail
