// Internal to errand_http: the OpenSSL server context behind the opaque
// TlsContext of server.hpp. Sees OpenSSL; include it only from the files
// that handle TLS connections.
//
// Thread-safe once loaded: OpenSSL contexts may be shared by connections on
// any thread.
#pragma once

#include "api/http/server.hpp"

#include <boost/asio/ssl/context.hpp>

namespace errand::http {

class TlsContext {
 public:
  TlsContext() : ssl(boost::asio::ssl::context::tls_server) {}

  boost::asio::ssl::context ssl;
};

}  // namespace errand::http
