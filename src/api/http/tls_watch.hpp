// Internal to errand_http: the DisconnectWatch of a TLS connection.
//
// Over TLS, bytes waiting on the socket may be the client's next request or
// its close_notify (the alert that ends a TLS session, encrypted like data
// in TLS 1.3): a peek cannot tell them apart. So when the socket has bytes,
// or nothing yet, this watch reads through TLS into the connection's read
// buffer: a close_notify, the end of the stream or a reset means the client
// is gone; data is its next request, left in the buffer for the next
// read_request. Everything else is DisconnectWatch's.
//
// Confined to the connection's strand.
#pragma once

#include "api/http/connection.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace errand::http::detail {

class TlsDisconnectWatch final : public DisconnectWatch {
 public:
  // REQUIRES: `stream` and `buffer` outlive this watch (all belong to one connection).
  TlsDisconnectWatch(TlsStream& stream, beast::flat_buffer& buffer);

  // end_request(), then waits until a read it cancelled has completed, with
  // whatever bytes it got in the buffer: the stream's next read may start only then.
  net::awaitable<void> end_request_and_settle();

 private:
  void arm(std::shared_ptr<void> owner) override;

  TlsStream& stream_;
  beast::flat_buffer& buffer_;
  net::steady_timer settled_;  // woken when the read completes
  bool reading_ = false;
};

}  // namespace errand::http::detail
