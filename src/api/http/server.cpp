// Accepting connections, the registry of open ones, and shutdown. The
// requests of each connection are connection.cpp's business.
#include "api/http/server.hpp"

#include "api/http/server_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <exception>

namespace errand::http {

using detail::Connection;
using detail::log_error;
using detail::log_exception;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Impl = Server::Impl;

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// 503 answers in flight at once beyond the connection cap; past this a
// connection is closed without an answer, so a flood costs nothing more.
constexpr std::size_t kMaxRejecting = 64;
// At most this many connections are taken from the backlog when the server
// stops accepting (the kernel's default backlog is 4096): a client that keeps
// connecting cannot hold the drain in that loop.
constexpr std::size_t kMaxBacklogAtStop = 4096;
// Accept fails mostly for lack of file descriptors; retrying at once would spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

net::awaitable<void> accept_loop(std::shared_ptr<Impl> server) {
  for (;;) {
    auto [ec, socket] =
        co_await server->acceptor->async_accept(server->next_connection_strand(), kTuple);
    // Even after stop_accepting(): a client that connected before is served.
    if (!ec) server->admit(tcp::socket(std::move(socket)));
    if (!server->accepting || !server->acceptor->is_open()) co_return;
    if (ec) {
      if (ec == net::error::operation_aborted) co_return;
      log_error("accept failed: " + ec.message());
      net::steady_timer pause(server->acceptor_strand, kAcceptRetryDelay);
      co_await pause.async_wait(kTuple);
      continue;
    }
  }
}

net::awaitable<void> drain(std::shared_ptr<Impl> server, std::chrono::milliseconds grace) {
  const auto deadline = Clock::now() + grace;
  server->stop_accepting();
  server->close_idle();
  net::steady_timer timer(server->control_strand);
  server->drain_timer = &timer;
  // forget() cancels the timer through control_strand when the last connection
  // goes, so the check and the wait below cannot miss it.
  while (server->open > 0 && Clock::now() < deadline) {
    timer.expires_at(deadline);
    co_await timer.async_wait(kTuple);
  }
  server->drain_timer = nullptr;
  server->close_all();
}

struct ListenAddress {
  std::string host;  // empty: every interface
  std::uint16_t port = 0;
};

std::optional<ListenAddress> parse_listen_address(std::string_view address) {
  ListenAddress out;
  std::string_view port;
  if (address.starts_with('[')) {
    const auto close = address.find(']');
    if (close == std::string_view::npos || address.substr(close + 1, 1) != ":") return std::nullopt;
    out.host = std::string(address.substr(1, close - 1));
    port = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    out.host = std::string(address.substr(0, colon));
    port = address.substr(colon + 1);
  }
  const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || err != std::errc{} || end != port.data() + port.size()) return std::nullopt;
  return out;
}

}  // namespace

void detail::log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log_error(std::string("connection aborted: ") + ex.what());
  } catch (...) {
    log_error("connection aborted: unknown exception");
  }
}

void Impl::admit(tcp::socket socket) {
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(mu);
    // Under mu: close_all() sets closing before it takes its snapshot, so a
    // connection registered here is either in that snapshot or never served.
    if (closing) return;
    if (connections.size() < limits.max_connections) {
      conn = detail::make_connection(*this, std::move(socket));
      connections.emplace(conn.get(), conn);
      open = connections.size();
    }
  }
  if (conn) {
    conn->start(shared_from_this());
    return;
  }
  // A TLS client would need a handshake to read a 503: at the cap, that is
  // work the server cannot spare. The socket closes as it goes out of scope.
  if (tls || rejecting >= kMaxRejecting) return;
  ++rejecting;
  const auto executor = socket.get_executor();
  net::co_spawn(executor, detail::turn_away(shared_from_this(), std::move(socket)), log_exception);
}

void Impl::forget(Connection* conn) {
  std::size_t left = 0;
  {
    std::lock_guard lock(mu);
    connections.erase(conn);
    left = connections.size();
    open = left;
  }
  if (left == 0 && draining) {
    net::post(control_strand, [self = shared_from_this()] {
      if (self->drain_timer != nullptr) self->drain_timer->cancel();
    });
  }
}

std::vector<std::shared_ptr<Connection>> Impl::snapshot() const {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard lock(mu);
  out.reserve(connections.size());
  for (const auto& [raw, weak] : connections) {
    if (auto conn = weak.lock()) out.push_back(std::move(conn));
  }
  return out;
}

void Impl::stop_accepting() {
  accepting = false;
  net::post(acceptor_strand, [self = shared_from_this()] {
    if (!self->acceptor) return;
    // Connections the kernel completed before now wait in the backlog; their
    // clients sent their requests before the drain began, so they are
    // accepted and served (or refused with an answer) rather than reset by
    // the close. A connection arriving after this loop is refused.
    error_code ec;
    self->acceptor->non_blocking(true, ec);
    for (std::size_t taken = 0; !ec && !self->closing && taken < kMaxBacklogAtStop; ++taken) {
      tcp::socket socket(self->next_connection_strand());
      self->acceptor->accept(socket, ec);
      if (!ec) self->admit(std::move(socket));
    }
    self->acceptor->close(ec);
  });
}

void Impl::close_idle() {
  draining = true;
  for (auto& conn : snapshot()) {
    const auto executor = conn->executor;
    net::post(executor, [conn = std::move(conn)] {
      if (conn->idle) conn->wake_idle();
    });
  }
}

void Impl::close_all() {
  draining = true;
  {
    std::lock_guard lock(mu);
    closing = true;
  }
  for (auto& conn : snapshot()) {
    const auto executor = conn->executor;
    net::post(executor, [conn = std::move(conn)] { conn->close_now(); });
  }
}

Server::Server(net::io_context& io, Handler handler, ServerLimits limits,
               std::shared_ptr<TlsContext> tls, std::vector<net::io_context*> connection_contexts)
    : impl_(std::make_shared<Impl>(io, std::move(handler), limits, std::move(tls),
                                   std::move(connection_contexts))) {}

Server::~Server() {
  impl_->stop_accepting();
  impl_->close_all();
}

std::optional<std::string> Server::listen(std::string_view address) {
  const auto parsed = parse_listen_address(address);
  if (!parsed) {
    return "expected HOST:PORT, [IPV6]:PORT or :PORT";
  }
  std::lock_guard lock(impl_->listen_mu);
  if (impl_->acceptor) return "already listening";
  if (impl_->closing) return "the server is closed";

  std::vector<tcp::endpoint> candidates;
  if (parsed->host.empty()) {
    // Every interface: one dual-stack IPv6 socket, or IPv4 where IPv6 is off.
    candidates = {{tcp::v6(), parsed->port}, {tcp::v4(), parsed->port}};
  } else {
    error_code ec;
    const auto ip =
        net::ip::make_address(parsed->host == "localhost" ? "127.0.0.1" : parsed->host, ec);
    if (ec) return "\"" + parsed->host + "\" is not an IP address";
    candidates = {{ip, parsed->port}};
  }

  error_code ec;
  tcp::acceptor acceptor(impl_->acceptor_strand);
  tcp::endpoint endpoint;
  for (const auto& candidate : candidates) {
    endpoint = candidate;
    // Only a missing address family (no IPv6) moves on to the next candidate.
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) break;
  }
  if (!ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
      acceptor.set_option(net::ip::v6_only(false), ec);
    }
    ec = {};
    acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) return ec.message();

  impl_->port = acceptor.local_endpoint(ec).port();
  impl_->acceptor.emplace(std::move(acceptor));
  impl_->accepting = true;
  net::co_spawn(impl_->acceptor_strand, accept_loop(impl_), log_exception);
  return std::nullopt;
}

std::uint16_t Server::port() const { return impl_->port; }

void Server::stop_accepting() { impl_->stop_accepting(); }

void Server::close_idle() { impl_->close_idle(); }

void Server::close_all() { impl_->close_all(); }

std::size_t Server::open_connections() const { return impl_->open; }

net::awaitable<void> Server::shutdown(std::chrono::milliseconds grace) {
  co_await net::co_spawn(impl_->control_strand, drain(impl_, grace), net::use_awaitable);
}

}  // namespace errand::http
