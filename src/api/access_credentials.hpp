// The tokens a server accepts (SPEC §5) and how a presented one is
// recognised: by the SHA-256 of the secret, compared in constant time with
// the digest of every configured token, so that the time an answer takes
// tells nothing about which token matched or how much of one did. The rules
// (roles, queue scopes, the checks on [[tokens]]) are core/access.hpp.
//
// Thread-safe once made: read-only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/access.hpp"

namespace errand::api {

class Credentials {
 public:
  // From the config's [[tokens]] tables and the secret of ERRAND_ADMIN_TOKEN
  // (empty: none). Fails, naming the table, on the first malformed one, on
  // two tokens with one name or one secret, and when there is no token at all.
  static Result<std::shared_ptr<const Credentials>> make(const std::vector<TokenConfig>& tokens,
                                                         std::string_view admin_secret);

  // The principal whose secret is `presented`, or null. Every token is
  // compared, whatever matched before.
  [[nodiscard]] const Principal* authenticate(std::string_view presented) const;

  [[nodiscard]] std::size_t size() const { return table_.entries().size(); }

 private:
  Credentials() = default;
  TokenTable table_;
};

Sha256Digest sha256(std::string_view data);

// Access control as `errand serve` sets it up: the credentials of `tokens`
// and `admin_secret` (ERRAND_ADMIN_TOKEN), or null when there is neither
// (every request allowed). An error, one sentence naming the fix, for a
// malformed token, an ERRAND_ADMIN_TOKEN set but empty, or no token at all
// while `listen` is not a loopback address and `insecure` was not given.
// Logs what it decided (never a secret).
Result<std::shared_ptr<const Credentials>> credentials_for_serving(
    const std::vector<TokenConfig>& tokens, const std::optional<std::string>& admin_secret,
    std::string_view listen, bool insecure);

}  // namespace errand::api
