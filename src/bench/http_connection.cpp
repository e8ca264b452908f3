#include "bench/http_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>

namespace errand::bench {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// Answers are job documents and lists of leases: far below this.
constexpr std::uint64_t kMaxAnswerBytes = 64 << 20;

std::string describe(const boost::system::error_code& ec, std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    return "no answer within " + std::to_string(timeout.count()) + " ms";
  }
  if (ec == bhttp::error::end_of_stream) return "the server closed the connection";
  return ec.message();
}

}  // namespace

struct HttpConnection::Impl {
  Impl(const net::any_io_executor& executor, const ServerAddress& server)
      : stream(executor), server(server) {}

  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  const ServerAddress& server;
  bool open = false;
  std::string head;  // reused: a request's head, rebuilt for each

  // A request's head into `head`: one extra header when `name` (with its
  // ": ") is not empty, a JSON Content-Type when the body is not empty.
  void write_head(std::string_view method, std::string_view target, std::string_view name,
                  std::string_view value, std::size_t body_size) {
    head.clear();
    head.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
    head.append(server.host_header).append("\r\n");
    if (!server.authorization.empty()) {
      head.append("Authorization: ").append(server.authorization).append("\r\n");
    }
    if (!name.empty()) head.append(name).append(value).append("\r\n");
    if (body_size > 0) {
      head.append("Content-Type: application/json\r\nContent-Length: ");
      head.append(std::to_string(body_size)).append("\r\n");
    }
    head.append("\r\n");
  }
};

HttpConnection::HttpConnection(const net::any_io_executor& executor, const ServerAddress& server)
    : impl_(std::make_unique<Impl>(executor, server)) {}

HttpConnection::~HttpConnection() = default;

net::awaitable<std::string> HttpConnection::connect() {
  if (impl_->open) co_return std::string();
  boost::system::error_code ec;
  const auto address = net::ip::make_address(impl_->server.ip, ec);
  if (ec) co_return "bad address " + impl_->server.ip;
  impl_->stream.expires_after(std::chrono::seconds(10));
  auto [connect_ec] =
      co_await impl_->stream.async_connect(tcp::endpoint(address, impl_->server.port), kTuple);
  if (connect_ec) {
    impl_->stream.close();
    co_return describe(connect_ec, std::chrono::seconds(10));
  }
  // Small requests one after another: Nagle would hold each for an ACK.
  impl_->stream.socket().set_option(tcp::no_delay(true), ec);
  impl_->buffer.clear();
  impl_->open = true;
  co_return std::string();
}

net::awaitable<HttpResponse> HttpConnection::request(std::string_view method,
                                                     std::string_view target, std::string_view body,
                                                     std::string_view prefer,
                                                     std::chrono::milliseconds timeout) {
  HttpResponse response;
  if (std::string error = co_await connect(); !error.empty()) {
    response.error = std::move(error);
    co_return response;
  }
  impl_->write_head(method, target, prefer.empty() ? "" : "Prefer: ", prefer, body.size());
  impl_->stream.expires_after(timeout);
  const std::array<net::const_buffer, 2> buffers{net::buffer(impl_->head), net::buffer(body)};
  auto [write_ec, written] = co_await net::async_write(impl_->stream, buffers, kTuple);
  (void)written;
  if (!write_ec) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxAnswerBytes);
    auto [read_ec, read] = co_await bhttp::async_read(impl_->stream, impl_->buffer, parser, kTuple);
    (void)read;
    if (!read_ec) {
      response.status = static_cast<int>(parser.get().result_int());
      response.body = std::move(parser.get().body());
      if (!parser.get().keep_alive()) close();
      co_return response;
    }
    write_ec = read_ec;
  }
  response.error = describe(write_ec, timeout);
  close();
  co_return response;
}

net::awaitable<HttpResponse> HttpConnection::open_stream(std::string_view target,
                                                         std::chrono::milliseconds timeout) {
  HttpResponse response;
  if (std::string error = co_await connect(); !error.empty()) {
    response.error = std::move(error);
    co_return response;
  }
  impl_->write_head("GET", target, "Accept: ", "text/event-stream", 0);
  impl_->stream.expires_after(timeout);
  auto [write_ec, written] =
      co_await net::async_write(impl_->stream, net::buffer(impl_->head), kTuple);
  (void)written;
  if (!write_ec) {
    bhttp::response_parser<bhttp::empty_body> parser;
    auto [read_ec, read] =
        co_await bhttp::async_read_header(impl_->stream, impl_->buffer, parser, kTuple);
    (void)read;
    if (!read_ec) {
      response.status = static_cast<int>(parser.get().result_int());
      if (response.status != 200) close();  // its body, if any, is not read
      co_return response;
    }
    write_ec = read_ec;
  }
  response.error = describe(write_ec, timeout);
  close();
  co_return response;
}

net::awaitable<std::string> HttpConnection::read_stream(std::chrono::milliseconds idle_timeout) {
  // The events are not parsed: the stream is only held open, so its framing
  // does not matter, and the connection is not used again.
  impl_->buffer.clear();
  std::array<char, 4096> scratch{};
  for (;;) {
    impl_->stream.expires_after(idle_timeout);
    auto [ec, n] = co_await impl_->stream.async_read_some(net::buffer(scratch), kTuple);
    (void)n;
    if (ec) {
      close();
      co_return describe(ec, idle_timeout);
    }
  }
}

void HttpConnection::close() {
  // Even when not open: a connect in progress is aborted too.
  impl_->open = false;
  impl_->stream.close();
  impl_->buffer.clear();
}

}  // namespace errand::bench
