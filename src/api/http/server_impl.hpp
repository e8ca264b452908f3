// Internal to errand_http: the state that server.cpp (accepting, the registry
// of connections, shutdown) and connection.cpp (the requests of one
// connection) share. Sees Beast; include it from nowhere else.
#pragma once

#include "api/http/disconnect_watch.hpp"
#include "api/http/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace errand::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace detail {

// One accepted connection. Confined to the strand of `stream`.
struct Connection {
  // `buffer_limit` bounds what a request may make us hold beyond its body:
  // a head, or a chunk-size line with endless extensions (Beast bounds neither
  // by itself once the head is parsed).
  Connection(tcp::socket socket, std::size_t buffer_limit)
      : stream(std::move(socket)), buffer(buffer_limit) {}

  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::string remote;
  bool idle = false;  // waiting for the first byte of a request: close_idle() may close it
  // The client_watch of each request; one per connection, so a request costs no allocation.
  DisconnectWatch watch{stream.socket()};
};

}  // namespace detail

// Shared by the Server, its accept loop and its connections. Thread-safe:
// atomics, `mu`, or confinement to a strand as marked.
struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(net::io_context& io_context, Handler h, ServerLimits l)
      : io(io_context),
        handler(std::move(h)),
        limits(l),
        acceptor_strand(net::make_strand(io_context)),
        control_strand(net::make_strand(io_context)) {}

  bool stopping() const { return draining || closing; }

  void admit(tcp::socket socket);
  void forget(detail::Connection* conn);
  std::vector<std::shared_ptr<detail::Connection>> snapshot() const;
  void stop_accepting();
  void close_idle();
  void close_all();

  net::io_context& io;
  const Handler handler;
  const ServerLimits limits;

  net::strand<net::io_context::executor_type> acceptor_strand;
  std::optional<tcp::acceptor> acceptor;  // confined to acceptor_strand once listen() returned
  std::mutex listen_mu;                   // serialises listen()
  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> accepting{false};
  std::atomic<bool> draining{false};
  std::atomic<bool> closing{false};
  std::atomic<std::size_t> rejecting{0};

  mutable std::mutex mu;
  std::unordered_map<detail::Connection*, std::weak_ptr<detail::Connection>>
      connections;                   // guarded by mu
  std::atomic<std::size_t> open{0};  // connections.size(), readable without mu

  net::strand<net::io_context::executor_type> control_strand;
  net::steady_timer* drain_timer = nullptr;  // confined to control_strand; set while draining
};

namespace detail {

// Serves the requests of `conn` until it closes, then forgets it. Runs on its strand.
net::awaitable<void> serve(std::shared_ptr<Server::Impl> server, std::shared_ptr<Connection> conn);

// Answers a connection over the cap with 503 and closes it. Decrements
// server->rejecting when done.
net::awaitable<void> turn_away(std::shared_ptr<Server::Impl> server, tcp::socket socket);

// What a connection's read buffer may hold: a whole head, plus one read.
std::size_t buffer_limit(const ServerLimits& limits);

void log_error(const std::string& what);

}  // namespace detail
}  // namespace errand::http
