// Loading the certificate and key for HTTPS, and the protocol settings every
// TLS connection gets (docs/security.md, "TLS").
#include "api/http/tls_context.hpp"

#include "logging/log.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace errand::http {
namespace {

// TLS 1.2 suites (TLS 1.3 keeps OpenSSL's defaults, all AEAD with forward
// secrecy): ephemeral ECDH key exchange and AEAD ciphers only, as in
// Mozilla's "intermediate" profile without the finite-field DHE suites.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// The reason of the last OpenSSL error, without its library prefix, e.g.
// "no start line" or "key values mismatch".
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

// Empty when `path` can be opened for reading, else why not ("No such file or directory").
std::string unreadable(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  return file ? std::string() : std::strerror(errno);
}

// Never asks for a passphrase: OpenSSL's default would prompt on the terminal.
int no_passphrase(char*, int, int, void*) { return -1; }

void warn_if_expired(SSL_CTX* ctx, const std::string& cert_file) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) return;
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
    log::warn("the TLS certificate has expired: clients will refuse it", {{"file", cert_file}});
  } else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
    log::warn("the TLS certificate is not valid yet: clients will refuse it",
              {{"file", cert_file}});
  }
}

}  // namespace

std::shared_ptr<TlsContext> load_tls_context(const TlsFiles& files, std::string& error) {
  auto context = std::make_shared<TlsContext>();
  SSL_CTX* ctx = context->ssl.native_handle();
  ERR_clear_error();

  // No SSLv3, TLS 1.0 or 1.1; no compression (CRIME); no renegotiation (a
  // client could make the server redo expensive handshakes at will).
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_ECDH_USE);
  // Frees a connection's read and write buffers (about 34 KiB) while it is
  // idle: thousands of clients waiting with Prefer: wait cost far less.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(ctx, &no_passphrase);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    error = "cannot set the TLS 1.2 ciphers: " + openssl_reason();
    return nullptr;
  }

  if (auto why = unreadable(files.cert_file); !why.empty()) {
    error = files.cert_file + ": cannot read the certificate: " + why;
    return nullptr;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    error = files.cert_file + ": not a PEM certificate (" + openssl_reason() + ")";
    return nullptr;
  }
  if (auto why = unreadable(files.key_file); !why.empty()) {
    error = files.key_file + ": cannot read the private key: " + why;
    return nullptr;
  }
  // Also checks that the key belongs to the certificate loaded above.
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const std::string reason = openssl_reason();
    if (reason == "key values mismatch") {
      error =
          files.key_file + ": the private key does not match the certificate in " + files.cert_file;
    } else {
      error = files.key_file + ": not an unencrypted PEM private key (" + reason + ")";
    }
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    error = files.key_file + ": the private key does not match the certificate in " +
            files.cert_file + " (" + openssl_reason() + ")";
    return nullptr;
  }
  warn_if_expired(ctx, files.cert_file);
  return context;
}

}  // namespace errand::http
