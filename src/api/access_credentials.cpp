#include "api/access_credentials.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "core/listen_address.hpp"
#include "logging/log.hpp"

namespace errand::api {

Sha256Digest sha256(std::string_view data) {
  Sha256Digest out{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

Result<std::shared_ptr<const Credentials>> Credentials::make(const std::vector<TokenConfig>& tokens,
                                                             std::string_view admin_secret) {
  std::shared_ptr<Credentials> made(new Credentials());
  for (const auto& token : tokens) {
    auto who = principal_of(token);
    if (!who) return who.status();
    // principal_of checked that exactly one form is there, and the hex.
    const Sha256Digest digest =
        token.secret ? sha256(*token.secret) : *parse_sha256_hex(*token.secret_sha256);
    if (auto st = made->table_.add(std::move(who.value()), digest); !st.is_ok()) return st;
  }
  if (!admin_secret.empty()) {
    if (auto st = made->table_.add(admin_principal(), sha256(admin_secret)); !st.is_ok()) {
      return st;
    }
  }
  if (made->table_.empty()) return invalid_argument("no token is configured");
  return std::shared_ptr<const Credentials>(std::move(made));
}

const Principal* Credentials::authenticate(std::string_view presented) const {
  const Sha256Digest digest = sha256(presented);
  const Principal* found = nullptr;
  for (const auto& entry : table_.entries()) {
    // No early exit: the loop's length does not depend on where (or whether) it matches.
    const bool same = CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0;
    if (same) found = &entry.principal;
  }
  return found;
}

Result<std::shared_ptr<const Credentials>> credentials_for_serving(
    const std::vector<TokenConfig>& tokens, const std::optional<std::string>& admin_secret,
    std::string_view listen, bool insecure) {
  if (admin_secret && admin_secret->empty()) {
    return invalid_argument("ERRAND_ADMIN_TOKEN is set but empty: give it a secret, or unset it");
  }
  if (!tokens.empty() || admin_secret) {
    auto made = Credentials::make(tokens, admin_secret.value_or(""));
    if (!made) return made.status();
    log::info("access control on", {{"tokens", (*made)->size()}});
    return made;
  }
  if (is_loopback_listen_address(listen)) {
    log::info("access control off: no token is configured, and only this machine can connect");
    return std::shared_ptr<const Credentials>();
  }
  if (!insecure) {
    return invalid_argument(
        "refusing to listen on " + std::string(listen) +
        " without any token: anyone who can reach it could do anything. Configure [[tokens]] in "
        "the --config file or set ERRAND_ADMIN_TOKEN (docs/security.md), listen on a loopback "
        "address such as 127.0.0.1, or pass --insecure (ERRAND_INSECURE=1) to allow it anyway");
  }
  log::warn(
      "access control off on a non-loopback address (--insecure): anyone who can reach "
      "it can do anything",
      {{"listen", listen}});
  return std::shared_ptr<const Credentials>();
}

}  // namespace errand::api
