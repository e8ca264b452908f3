#include "core/access.hpp"

#include <algorithm>

#include "core/alerts.hpp"  // glob_matches: the alert rules' queue patterns are the same globs
#include "core/hex.hpp"
#include "core/queue_name.hpp"

namespace errand {
namespace {

constexpr std::size_t kMaxTokenName = 128;
constexpr std::size_t kMaxQueueGlob = 256;
constexpr Role kAllRoles[] = {Role::kSubmit, Role::kWork, Role::kAdmin};

// A queue pattern: queue-name characters plus the wildcards `*` and `?`.
bool is_valid_queue_glob(std::string_view glob) {
  if (glob.empty() || glob.size() > kMaxQueueGlob) return false;
  return std::all_of(glob.begin(), glob.end(),
                     [](char c) { return is_queue_name_char(c) || c == '*' || c == '?'; });
}

bool is_valid_token_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxTokenName) return false;
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string token_label(const Principal& who) { return "token '" + who.name + "'"; }

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kSubmit:
      return "submit";
    case Role::kWork:
      return "work";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

std::optional<Role> parse_role(std::string_view name) {
  for (Role r : kAllRoles) {
    if (role_name(r) == name) return r;
  }
  return std::nullopt;
}

std::string RoleSet::describe(std::string_view last_separator) const {
  std::vector<std::string_view> names;
  for (Role r : kAllRoles) {
    if (contains(r)) names.push_back(role_name(r));
  }
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? std::string(last_separator) : ", ";
    out += names[i];
  }
  return out;
}

bool Principal::may_use(std::string_view queue) const {
  if (every_queue()) return true;
  return std::any_of(queue_globs.begin(), queue_globs.end(),
                     [&](const std::string& glob) { return glob_matches(glob, queue); });
}

bool Principal::has_any(RoleSet accepted) const {
  return roles.contains(Role::kAdmin) || roles.intersects(accepted);
}

AccessDecision authorize(const Principal& who, const AccessNeed& need) {
  AccessDecision d;
  if (!who.has_any(need.roles)) {
    d.denial = Denial::kRole;
    d.roles = need.roles;
    d.roles.add(Role::kAdmin);
    d.detail = token_label(who) + " (roles: " + who.roles.describe(", ") +
               ") may not do this: it needs the role " + d.roles.describe();
    return d;
  }
  if (need.every_queue && !who.every_queue()) {
    d.denial = Denial::kEveryQueue;
    d.detail = token_label(who) + " may use only the queues " + joined(who.queue_globs) +
               "; this needs a token for every queue";
    return d;
  }
  for (const auto& queue : need.queues) {
    if (!who.may_use(queue)) {
      d.denial = Denial::kQueue;
      d.queue = queue;
      d.detail = token_label(who) + " may not use the queue '" + queue +
                 "' (its queues: " + joined(who.queue_globs) + ")";
      return d;
    }
  }
  return d;
}

std::optional<Sha256Digest> parse_sha256_hex(std::string_view hex) {
  Sha256Digest out{};
  if (hex.size() != out.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_digit_value(hex[2 * i]);
    const int lo = hex_digit_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return out;
}

Result<Principal> principal_of(const TokenConfig& token) {
  if (!is_valid_token_name(token.name)) {
    return invalid_argument("[[tokens]]: every token needs a name of 1 to " +
                            std::to_string(kMaxTokenName) +
                            " printable characters (it names the token in logs and 403s)");
  }
  const std::string of = "token '" + token.name + "': ";
  if (token.secret.has_value() == token.secret_sha256.has_value()) {
    return invalid_argument(of +
                            "give exactly one of secret_sha256 (hex of the secret's SHA-256) "
                            "or secret (plain, for development)");
  }
  if (token.secret && token.secret->empty()) return invalid_argument(of + "secret is empty");
  if (token.secret_sha256 && !parse_sha256_hex(*token.secret_sha256)) {
    return invalid_argument(of +
                            "secret_sha256 must be 64 hex digits, as printed by "
                            "`printf %s \"$secret\" | sha256sum`");
  }
  Principal who;
  who.name = token.name;
  if (token.roles.empty()) {
    return invalid_argument(of + "roles must name at least one of submit, work, admin");
  }
  for (const auto& name : token.roles) {
    const auto role = parse_role(name);
    if (!role) {
      return invalid_argument(of + "unknown role '" + name + "' (roles are submit, work, admin)");
    }
    who.roles.add(*role);
  }
  if (token.queue_globs) {
    if (token.queue_globs->empty()) {
      return invalid_argument(of + "queues is empty; leave it out to allow every queue");
    }
    for (const auto& glob : *token.queue_globs) {
      if (!is_valid_queue_glob(glob)) {
        return invalid_argument(of + "queue pattern '" + glob +
                                "' must be queue-name characters (A-Z a-z 0-9 . _ -) with * "
                                "(any run) and ? (one character)");
      }
    }
    who.queue_globs = *token.queue_globs;
  }
  return who;
}

Principal admin_principal() {
  return Principal{"ERRAND_ADMIN_TOKEN", RoleSet{Role::kSubmit, Role::kWork, Role::kAdmin}, {}};
}

Status TokenTable::add(Principal principal, const Sha256Digest& digest) {
  for (const auto& e : entries_) {
    if (e.principal.name == principal.name) {
      return invalid_argument("two tokens are named '" + principal.name + "'");
    }
    if (e.digest == digest) {
      return invalid_argument("tokens '" + e.principal.name + "' and '" + principal.name +
                              "' have the same secret");
    }
  }
  entries_.push_back({std::move(principal), digest});
  return Status::ok();
}

}  // namespace errand
