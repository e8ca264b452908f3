// The HTTP/1.1 server: accepts TCP connections, parses requests under the
// limits of SPEC.md section 5, hands each request to a Handler and writes its
// Response (whole, or streamed with chunked encoding for Server-Sent Events).
//
// Framing errors never reach the handler: they are answered here with a
// problem+json body and the connection is closed (413 body too large, 431
// header too large, 505 an HTTP version other than 1.0 and 1.1, 501 a
// transfer coding other than chunked, 400 for anything malformed or
// ambiguous, such as both Content-Length and Transfer-Encoding, repeated
// lengths, obs-fold or a bare LF; docs/reliability.md lists every case). A
// client too slow to send its head or body, or to read its answer, is cut at
// the deadline without an answer.
//
// With a TlsContext it serves HTTPS instead (TLS 1.2 or 1.3, see
// tls_context.cpp): the handshake must end within the header timeout, and
// everything above holds inside the TLS stream.
//
// Thread-safe: every member function may be called from any thread, including
// from inside a handler. Each connection is a coroutine on its own strand of
// the io_context, which any number of threads may run.
//
// Graceful shutdown is `co_await server.shutdown(grace)`, or by hand:
// stop_accepting(), close_idle(), wait for open_connections() to reach 0,
// close_all().
#pragma once

#include "api/http/message.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace errand::http {

struct ServerLimits {
  std::size_t max_header_bytes = 16 * 1024;      // request line + fields; beyond: 431
  std::size_t max_body_bytes = 2 * 1024 * 1024;  // declared or chunked; beyond: 413
  // From the first byte of a request to the end of its header; for the first
  // request of a connection, from its accept (or the end of its TLS
  // handshake). It bounds the TLS handshake too.
  std::chrono::milliseconds header_timeout{10'000};
  // A keep-alive connection waiting for its next request.
  std::chrono::milliseconds idle_timeout{60'000};
  // From the end of the header to the end of the body.
  std::chrono::milliseconds body_timeout{30'000};
  // Each response write, and each chunk of a stream: bounds a reader that stopped reading.
  std::chrono::milliseconds write_timeout{30'000};
  // Beyond: the new connection gets a 503 problem with Retry-After and is
  // closed (over TLS: closed at once, a handshake would cost more than it saves).
  std::size_t max_connections = 10'000;
};

// A certificate and its private key, loaded for HTTPS. Opaque: OpenSSL stays
// out of this header. Thread-safe; shared by every connection.
class TlsContext;

struct TlsFiles {
  std::string cert_file;  // PEM: the certificate, then any intermediate certificates
  std::string key_file;   // PEM: its private key, not encrypted
};

// Loads `files` and checks that the key matches the certificate. On failure
// returns null and sets `error` to "<file>: <reason>". Logs a warning for a
// certificate that has expired or is not valid yet.
std::shared_ptr<TlsContext> load_tls_context(const TlsFiles& files, std::string& error);

class Server {
 public:
  // REQUIRES: `io` outlives this Server, and the Server is destroyed before
  // `io` is. `handler` is called concurrently from many strands. With `tls`
  // every connection is HTTPS; without, plain HTTP. `connection_contexts`
  // (same requirement; empty: `io` alone) take the accepted connections in
  // turn: with one thread running each, a connection's requests stay on one
  // thread and its I/O wakes no other.
  Server(boost::asio::io_context& io, Handler handler, ServerLimits limits = {},
         std::shared_ptr<TlsContext> tls = nullptr,
         std::vector<boost::asio::io_context*> connection_contexts = {});
  // Stops accepting and closes every connection. Connection coroutines finish
  // on the io_context afterwards and keep what they use (the handler) alive.
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts accepting. `address` is "127.0.0.1:7400",
  // "[::1]:7400", "localhost:7400" or ":7400" (every interface, IPv6 and
  // IPv4); port 0 picks a free port (see port()). Returns why it failed
  // ("Address already in use"), without repeating the address.
  // REQUIRES: called at most once successfully.
  std::optional<std::string> listen(std::string_view address);

  // The bound port, or 0 before a successful listen().
  std::uint16_t port() const;

  // Closes the listening socket; connections already accepted go on.
  void stop_accepting();

  // Starts draining: connections waiting for their next request are closed,
  // the others close after their current response (sent with
  // `Connection: close`), and EventSink::write returns false from now on.
  void close_idle();

  // Closes every connection at once, whatever it is doing.
  void close_all();

  // Connections accepted and not yet closed (rejected ones are not counted).
  std::size_t open_connections() const;

  // stop_accepting(), close_idle(), waits until every connection has closed
  // or `grace` has passed, then close_all().
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

  struct Impl;  // public only so that server.cpp's free functions can name it

 private:
  std::shared_ptr<Impl> impl_;  // shared with the connection coroutines, which may outlive *this
};

}  // namespace errand::http
