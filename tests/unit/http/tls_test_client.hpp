// TestClient over TLS: connects, handshakes (verifying the server against the
// given client context) and then reads and writes through the TLS session.
// close_notify() ends the session politely; close() just drops the TCP
// connection, as a client that crashed would.
//
// Not thread-safe; one per test connection.
#pragma once

#include "test_client.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <openssl/ssl.h>

namespace errand::http::testing {

// A client context that trusts exactly the PEM certificate `ca_pem`, with
// the protocol versions given (0: OpenSSL's defaults).
inline boost::asio::ssl::context client_context(const std::string& ca_pem, int min_version = 0,
                                                int max_version = 0) {
  boost::asio::ssl::context context(boost::asio::ssl::context::tls_client);
  context.add_certificate_authority(boost::asio::buffer(ca_pem));
  context.set_verify_mode(boost::asio::ssl::verify_peer);
  if (min_version != 0) SSL_CTX_set_min_proto_version(context.native_handle(), min_version);
  if (max_version != 0) SSL_CTX_set_max_proto_version(context.native_handle(), max_version);
  return context;
}

class TlsTestClient final : public TestClient {
 public:
  TlsTestClient(std::uint16_t port, boost::asio::ssl::context& context)
      : TestClient(port), tls_(socket_, context) {
    if (!connected_) return;
    std::optional<boost::system::error_code> result;
    tls_.async_handshake(boost::asio::ssl::stream_base::client,
                         [&](boost::system::error_code ec) { result = ec; });
    run_pending([&] { return result.has_value(); });
    handshake_error_ = result.value_or(boost::asio::error::timed_out);
  }

  // Empty when the handshake succeeded.
  boost::system::error_code handshake_error() const { return handshake_error_; }

  bool send(std::string_view bytes) override {
    boost::system::error_code ec;
    boost::asio::write(tls_, boost::asio::buffer(bytes), ec);
    return !ec;
  }

  // Sends close_notify and waits (bounded) for the server's, then closes.
  void close_notify() {
    tls_.async_shutdown([](boost::system::error_code) {});
    io_.restart();
    io_.run_for(kDeadline);
    close();
    io_.restart();
    io_.run();
  }

 protected:
  void async_read_some(boost::asio::mutable_buffer into, ReadHandler done) override {
    tls_.async_read_some(into, std::move(done));
  }

 private:
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket&> tls_;
  boost::system::error_code handshake_error_;
};

}  // namespace errand::http::testing
