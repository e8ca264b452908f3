#include "server/config_file.hpp"

#include <toml++/toml.h>

#include <cstdio>
#include <optional>
#include <tuple>

#include "core/queue_name.hpp"

namespace errand::server {
namespace {

// The [[alerts]] tables of the config file (SPEC §3 Alerts); false, with a
// message, when one is malformed.
bool apply_alert_rules(const std::string& path, const toml::table& t, ServeOptions& o) {
  const toml::array* rules = t["alerts"].as_array();
  if (rules == nullptr) return true;
  for (const auto& node : *rules) {
    const toml::table* r = node.as_table();
    AlertRule rule;
    std::optional<AlertKind> kind;
    if (r != nullptr) {
      rule.name = (*r)["name"].value_or(std::string());
      rule.queue_glob = (*r)["queue"].value_or(std::string("*"));
      kind = parse_alert_kind((*r)["kind"].value_or(std::string()));
      rule.threshold_ms = (*r)["threshold_ms"].value_or(std::int64_t{0});
      rule.ratio = (*r)["ratio"].value_or(0.0);
      rule.window_ms = (*r)["window_ms"].value_or(rule.window_ms);
      rule.webhook = (*r)["webhook"].value_or(std::string());
      rule.secret = (*r)["secret"].value_or(std::string());
    }
    Status ok =
        r == nullptr ? invalid_argument("[[alerts]] entries must be tables")
        : !kind      ? invalid_argument("alert '" + rule.name +
                                        "': kind must be lag, failure_ratio, dead_letters or no_workers")
                     : Status::ok();
    if (ok.is_ok()) {
      rule.kind = *kind;
      ok = rule.validate();
    }
    if (!ok.is_ok()) {
      std::fprintf(stderr, "errand: config %s: %s\n", path.c_str(), ok.message().c_str());
      return false;
    }
    o.alert_rules.push_back(std::move(rule));
  }
  return true;
}

// The [[queues]] tables of the config file: per-queue settings applied at
// start-up (docs/api.md "Queues"); false, with a message, when one is malformed.
bool apply_queue_settings(const std::string& path, const toml::table& t, ServeOptions& o) {
  const toml::array* queues = t["queues"].as_array();
  if (queues == nullptr) return true;
  for (const auto& node : *queues) {
    const toml::table* q = node.as_table();
    std::string problem;
    ServeOptions::QueueConfig config;
    if (q == nullptr) {
      problem = "[[queues]] entries must be tables";
    } else {
      config.name = (*q)["name"].value_or(std::string());
      const auto max_queued = (*q)["max_queued"].value<std::int64_t>();
      for (const auto& [key, value] : *q) {
        if (key != "name" && key != "max_queued") {
          problem = "queue '" + config.name + "': unknown key '" + std::string(key.str()) + "'";
        }
      }
      if (!is_valid_queue_name(config.name)) {
        problem = "queue '" + config.name + "': not a valid queue name";
      } else if ((*q).contains("max_queued") &&
                 (!max_queued || *max_queued < 1 || *max_queued > 1'000'000'000)) {
        problem = "queue '" + config.name + "': max_queued must be an integer from 1 to 1e9";
      }
      config.max_queued = max_queued;
    }
    if (!problem.empty()) {
      std::fprintf(stderr, "errand: config %s: %s\n", path.c_str(), problem.c_str());
      return false;
    }
    o.queues.push_back(std::move(config));
  }
  return true;
}

// An array of strings, or nullopt for anything else.
std::optional<std::vector<std::string>> string_list(const toml::node& node) {
  const toml::array* array = node.as_array();
  if (array == nullptr) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& e : *array) {
    auto s = e.value<std::string>();
    if (!s) return std::nullopt;
    out.push_back(*s);
  }
  return out;
}

// The [[tokens]] tables of the config file (docs/security.md) as written:
// their rules are checked by `serve` (core/access.hpp). False, with a message,
// for a key of the wrong type or an unknown key: a typo such as `queue` for
// `queues` must not quietly open every queue.
bool read_token_tables(const std::string& path, const toml::table& t, ServeOptions& o) {
  const toml::node* node = t.get("tokens");
  if (node == nullptr) return true;
  const toml::array* tables = node->as_array();
  std::string problem = tables == nullptr ? "tokens must be [[tokens]] tables" : "";
  for (std::size_t i = 0; problem.empty() && i < tables->size(); ++i) {
    const toml::table* table = (*tables)[i].as_table();
    const std::string label = "[[tokens]] entry " + std::to_string(i + 1);
    if (table == nullptr) {
      problem = label + " must be a table";
      break;
    }
    TokenConfig token;
    for (const auto& [key, value] : *table) {
      const std::string_view k = key.str();
      const auto text = value.value<std::string>();
      if (k == "name" || k == "secret" || k == "secret_sha256") {
        if (!text) {
          problem = label + ": " + std::string(k) + " must be a string";
        } else if (k == "name") {
          token.name = *text;
        } else if (k == "secret") {
          token.secret = *text;
        } else {
          token.secret_sha256 = *text;
        }
      } else if (k == "roles" || k == "queues") {
        auto list = string_list(value);
        if (!list) {
          problem = label + ": " + std::string(k) + " must be an array of strings";
        } else if (k == "roles") {
          token.roles = std::move(*list);
        } else {
          token.queue_globs = std::move(*list);
        }
      } else {
        problem = label + ": unknown key '" + std::string(k) +
                  "' (a token has name, secret_sha256 or secret, roles and queues)";
      }
    }
    o.tokens.push_back(std::move(token));
  }
  if (!problem.empty()) {
    std::fprintf(stderr, "errand: config %s: %s\n", path.c_str(), problem.c_str());
    return false;
  }
  return true;
}

}  // namespace

bool apply_config_file(const std::string& path, const FlagGiven& given, ServeOptions& o,
                       ConfigText text) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::fprintf(stderr, "errand: cannot read config %s: %s\n", path.c_str(), e.what());
    return false;
  }
  auto unset = [&](const char* flag) { return !given(flag); };
  if (auto v = t["listen"].value<std::string>(); v && unset("--listen")) o.listen = *v;
  if (auto v = t["data_dir"].value<std::string>(); v && unset("--data-dir")) o.data_dir = *v;
  if (auto v = t["store"].value<std::string>(); v && unset("--store")) o.store = *v;
  if (auto v = t["store_pool_size"].value<std::int64_t>(); v && unset("--store-pool-size")) {
    o.store_pool_size = static_cast<int>(std::clamp<std::int64_t>(*v, 1, 256));
  }
  if (auto v = t["store_timeout_ms"].value<std::int64_t>(); v && unset("--store-timeout-ms")) {
    o.store_timeout = std::chrono::milliseconds(std::max<std::int64_t>(*v, 0));
  }
  if (auto v = t["durability"].value<std::string>(); v && unset("--durability"))
    text.durability = *v;
  if (auto v = t["log_format"].value<std::string>(); v && unset("--log-format"))
    text.log_format = *v;
  if (auto v = t["log_level"].value<std::string>(); v && unset("--log-level")) text.log_level = *v;
  if (auto* v = t["cors_origins"].as_array(); v && unset("--cors-origin")) {
    for (const auto& e : *v) {
      if (auto s = e.value<std::string>()) o.cors_origins.push_back(*s);
    }
  }
  if (auto v = t["max_wait_ms"].value<std::int64_t>(); v && unset("--max-wait-ms")) {
    o.max_wait = std::chrono::milliseconds(*v);
  }
  if (auto v = t["no_worker_after_ms"].value<std::int64_t>(); v && unset("--no-worker-after-ms")) {
    o.no_worker_after = std::chrono::milliseconds(*v);
  }
  if (auto v = t["shutdown_timeout_ms"].value<std::int64_t>();
      v && unset("--shutdown-timeout-ms")) {
    if (*v < 0 || *v > kMaxShutdownTimeoutMs) {
      std::fprintf(stderr, "errand: config %s: shutdown_timeout_ms must be 0 to %lld\n",
                   path.c_str(), static_cast<long long>(kMaxShutdownTimeoutMs));
      return false;
    }
    o.drain_grace = std::chrono::milliseconds(*v);
  }
  if (auto v = t["otlp_endpoint"].value<std::string>(); v && unset("--otlp-endpoint")) {
    o.otlp_endpoint = *v;
  }
  if (auto v = t["tls_cert"].value<std::string>(); v && unset("--tls-cert")) o.tls_cert = *v;
  if (auto v = t["tls_key"].value<std::string>(); v && unset("--tls-key")) o.tls_key = *v;
  for (auto [key, flag, target] :
       {std::tuple{"header_timeout_ms", "--header-timeout-ms", &o.header_timeout},
        std::tuple{"body_timeout_ms", "--body-timeout-ms", &o.body_timeout},
        std::tuple{"write_timeout_ms", "--write-timeout-ms", &o.write_timeout}}) {
    const auto v = t[key].value<std::int64_t>();
    if (!v || !unset(flag)) continue;
    if (*v < 1 || *v > kMaxHttpTimeoutMs) {
      std::fprintf(stderr, "errand: config %s: %s must be from 1 to %lld\n", path.c_str(), key,
                   static_cast<long long>(kMaxHttpTimeoutMs));
      return false;
    }
    *target = std::chrono::milliseconds(*v);
  }
  if (auto v = t["max_memory_mb"].value<std::int64_t>(); v && unset("--max-memory-mb")) {
    if (*v < 0) {
      std::fprintf(stderr, "errand: config %s: max_memory_mb must be 0 (automatic) or more\n",
                   path.c_str());
      return false;
    }
    o.max_memory_bytes = static_cast<std::uint64_t>(*v) * 1024 * 1024;
  }
  return apply_queue_settings(path, t, o) && apply_alert_rules(path, t, o) &&
         read_token_tables(path, t, o);
}

}  // namespace errand::server
