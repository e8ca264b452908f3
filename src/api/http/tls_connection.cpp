// The TLS steps of a connection (handshake, close_notify) and the TLS
// instantiation of connection.hpp: the only connection code that sees OpenSSL.
#include "api/http/tls_context.hpp"
#include "api/http/tls_watch.hpp"
#include "logging/log.hpp"

#include <boost/asio/ssl/error.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace errand::http::detail {
namespace {

// How long a close waits for the client's close_notify (see close_gracefully).
constexpr auto kCloseNotifyTime = std::chrono::seconds(2);

}  // namespace

TlsDisconnectWatch make_watch(TlsStream& stream, beast::flat_buffer& buffer) {
  return TlsDisconnectWatch(stream, buffer);
}

net::awaitable<bool> handshake(const Impl& server, StreamConnection<TlsStream>& conn) {
  if (server.stopping()) co_return false;
  auto& tcp_stream = beast::get_lowest_layer(conn.stream);
  // From the accept: a client that connects and stays silent holds nothing for long.
  tcp_stream.expires_at(conn.accepted + server.limits.header_timeout);
  conn.idle = true;  // nothing asked yet: draining may close it
  auto [ec] = co_await conn.stream.async_handshake(net::ssl::stream_base::server, kTuple);
  conn.idle = false;
  tcp_stream.expires_never();
  if (ec) {
    // Scanners, plain HTTP sent to the TLS port, clients that distrust the
    // certificate or offer only old protocols: routine, so at debug level.
    log::debug("tls handshake failed", {{"remote", conn.remote}, {"reason", ec.message()}});
    co_return false;
  }
  co_return true;
}

net::awaitable<void> close_gracefully(TlsStream& stream) {
  auto& tcp_stream = beast::get_lowest_layer(stream);
  tcp_stream.expires_after(kCloseNotifyTime);
  // Sends our close_notify, then reads until the client's (or the end of the stream).
  auto [ec] = co_await stream.async_shutdown(kTuple);
  const bool over = !ec || ec == net::error::eof || ec == net::ssl::error::stream_truncated;
  if (!over && tcp_stream.socket().is_open()) {
    // The client is still sending (the rest of a refused body, say): drain
    // as over plain TCP, so that the response is not destroyed by a reset.
    co_await close_gracefully(tcp_stream);
    co_return;
  }
  tcp_stream.close();
}

template struct StreamConnection<TlsStream>;

std::shared_ptr<Connection> make_tls_connection(const Impl& server, tcp::socket socket) {
  return std::make_shared<StreamConnection<TlsStream>>(
      std::move(socket), buffer_limit(server.limits), server.tls->ssl);
}

}  // namespace errand::http::detail
