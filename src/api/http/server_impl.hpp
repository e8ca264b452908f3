// Internal to errand_http: the state that server.cpp (accepting, the registry
// of connections, shutdown) and the connection code (connection.hpp: the
// requests of one connection, plain or TLS) share. Sees Asio; include it from
// nowhere else.
#pragma once

#include "api/http/server.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace errand::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace detail {

// One accepted connection, over plain TCP or TLS (StreamConnection in
// connection.hpp). Confined to the strand `executor`, which never changes.
struct Connection : std::enable_shared_from_this<Connection> {
  explicit Connection(net::any_io_executor strand) : executor(std::move(strand)) {}
  virtual ~Connection() = default;

  // Closes the socket at once: whatever is pending fails. On the strand.
  virtual void close_now() = 0;
  // Cancels the read an idle connection waits in, so that it sees the drain:
  // a request whose bytes have already arrived is still served. On the strand.
  virtual void wake_idle() = 0;
  // Spawns the coroutine that serves its requests (detail::serve).
  virtual void start(std::shared_ptr<Server::Impl> server) = 0;

  const net::any_io_executor executor;
  const std::chrono::steady_clock::time_point accepted = std::chrono::steady_clock::now();
  std::string remote;
  bool idle = false;  // waiting for a request (or a handshake): close_idle() wakes it
};

}  // namespace detail

// Shared by the Server, its accept loop and its connections. Thread-safe:
// atomics, `mu`, or confinement to a strand as marked.
struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(net::io_context& io_context, Handler h, ServerLimits l, std::shared_ptr<TlsContext> t,
       std::vector<net::io_context*> contexts)
      : io(io_context),
        handler(std::move(h)),
        limits(l),
        tls(std::move(t)),
        connection_contexts(contexts.empty() ? std::vector<net::io_context*>{&io_context}
                                             : std::move(contexts)),
        acceptor_strand(net::make_strand(io_context)),
        control_strand(net::make_strand(io_context)) {}

  // The strand of the next accepted connection, on the contexts in turn.
  net::strand<net::io_context::executor_type> next_connection_strand() {
    const std::size_t i = next_context++ % connection_contexts.size();
    return net::make_strand(*connection_contexts[i]);
  }

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
  const std::shared_ptr<TlsContext> tls;  // null: plain HTTP
  const std::vector<net::io_context*> connection_contexts;
  std::atomic<std::size_t> next_context{0};

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

// A connection object for `socket`: TLS when server.tls is set (then in
// tls_connection.cpp), else plain. Not started yet.
std::shared_ptr<Connection> make_connection(const Server::Impl& server, tcp::socket socket);
std::shared_ptr<Connection> make_tls_connection(const Server::Impl& server, tcp::socket socket);

// Answers a connection over the cap with 503 and closes it. Decrements
// server->rejecting when done. Plain HTTP only.
net::awaitable<void> turn_away(std::shared_ptr<Server::Impl> server, tcp::socket socket);

// What a connection's read buffer may hold: a whole head, plus one read.
std::size_t buffer_limit(const ServerLimits& limits);

void log_error(const std::string& what);
// The completion of a connection's coroutine: logs the exception that ended it, if any.
void log_exception(std::exception_ptr e);

}  // namespace detail
}  // namespace errand::http
