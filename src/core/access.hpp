// Access control (SPEC §5) as pure rules: who a token is (a Principal: its
// roles and the queues it may use), what a request needs, whether a
// principal has it, and the checks on the [[tokens]] tables of the config
// file. Hashing a presented secret and comparing it in constant time need
// OpenSSL and live in api/access_credentials; this file does no I/O.
//
// Thread-safe: values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace errand {

enum class Role : std::uint8_t { kSubmit = 1, kWork = 2, kAdmin = 4 };

std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view name);

// A set of roles, e.g. the roles of a token or the ones a request accepts.
class RoleSet {
 public:
  constexpr RoleSet() = default;
  constexpr RoleSet(std::initializer_list<Role> roles) {
    for (Role r : roles) add(r);
  }
  constexpr void add(Role r) { bits_ |= static_cast<std::uint8_t>(r); }
  [[nodiscard]] constexpr bool contains(Role r) const {
    return (bits_ & static_cast<std::uint8_t>(r)) != 0;
  }
  [[nodiscard]] constexpr bool intersects(RoleSet other) const {
    return (bits_ & other.bits_) != 0;
  }
  [[nodiscard]] constexpr bool empty() const { return bits_ == 0; }
  // "submit", "submit or admin", "submit, work or admin" (in that order).
  [[nodiscard]] std::string describe(std::string_view last_separator = " or ") const;

 private:
  std::uint8_t bits_ = 0;
};

// Who a request comes from, once its token is recognised.
struct Principal {
  std::string name;                      // the token's name, for logs and 403s
  RoleSet roles;                         // admin implies submit and work
  std::vector<std::string> queue_globs;  // `*` and `?` patterns; empty: every queue

  [[nodiscard]] bool every_queue() const { return queue_globs.empty(); }
  [[nodiscard]] bool may_use(std::string_view queue) const;
  [[nodiscard]] bool has_any(RoleSet accepted) const;
};

// What a request needs: one of `roles` (admin always qualifies) and, for
// its queues, either each of `queues` or every queue.
struct AccessNeed {
  RoleSet roles;
  std::vector<std::string> queues;  // the queues it touches (may be empty)
  bool every_queue = false;         // it sees all queues (lists, metrics)
};

// Why a request may not go on; kNone: it may.
enum class Denial { kNone, kRole, kQueue, kEveryQueue };

struct AccessDecision {
  Denial denial = Denial::kNone;
  // For a denial, one sentence naming the token (never its secret) and what
  // it lacks: the role, the queue, or access to every queue.
  std::string detail;
  RoleSet roles;      // kRole: the roles that would do
  std::string queue;  // kQueue: the first queue out of scope

  [[nodiscard]] bool allowed() const { return denial == Denial::kNone; }
};

// Whether `who` may do what `need` describes; checks the role first.
AccessDecision authorize(const Principal& who, const AccessNeed& need);

// A [[tokens]] table as read from the config file, before any check.
struct TokenConfig {
  std::string name;
  std::optional<std::string> secret;         // plain, for development
  std::optional<std::string> secret_sha256;  // hex of SHA-256(secret)
  std::vector<std::string> roles;
  std::optional<std::vector<std::string>> queue_globs;  // absent: every queue
};

using Sha256Digest = std::array<std::uint8_t, 32>;

// 64 hex digits (either case) as a digest; nullopt for anything else.
std::optional<Sha256Digest> parse_sha256_hex(std::string_view hex);

// The principal a token table describes, or a 400-style Status whose message
// names the table and what is wrong: a missing or overlong name, an unknown
// or missing role, both or neither secret forms, an empty secret, bad hex,
// an empty or malformed queue pattern. Duplicates across tables are the
// TokenTable's to find.
Result<Principal> principal_of(const TokenConfig& token);

// The one token of ERRAND_ADMIN_TOKEN: every role on every queue.
Principal admin_principal();

// The tokens a server accepts: principals with the digests of their secrets.
// Not thread-safe to build; read-only (and so thread-safe) once built.
class TokenTable {
 public:
  struct Entry {
    Principal principal;
    Sha256Digest digest;
  };

  // Adds a token; fails when its name or its secret is already taken (two
  // tokens with one secret would make a request's principal ambiguous).
  Status add(Principal principal, const Sha256Digest& digest);

  [[nodiscard]] const std::vector<Entry>& entries() const { return entries_; }
  [[nodiscard]] bool empty() const { return entries_.empty(); }

 private:
  std::vector<Entry> entries_;
};

}  // namespace errand
