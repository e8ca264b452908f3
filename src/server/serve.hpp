// `errand serve`: wires the embedded store, the API and the HTTP server, runs
// them on an io_context with one thread per core, and drains on SIGTERM or
// SIGINT (SPEC §4).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/access.hpp"
#include "core/alerts.hpp"
#include "logging/log.hpp"
#include "store/embedded/group_commit.hpp"

namespace errand::server {

struct ServeOptions {
  std::string listen = "127.0.0.1:7400";
  // "embedded" (RocksDB in data_dir) or a PostgreSQL URL (docs/postgres.md).
  std::string store = "embedded";
  int store_pool_size = 8;  // PostgreSQL connections that run transactions
  // PostgreSQL: how long a statement may go unanswered (0: no limit).
  std::chrono::milliseconds store_timeout{15'000};
  std::string data_dir = "./errand-data";
  embedded::Durability durability = embedded::Durability::kFsync;
  std::chrono::milliseconds max_wait{60'000};
  std::size_t max_connections = 10'000;
  // HTTPS with this certificate chain and key (PEM files), or plain HTTP when
  // both are empty (docs/security.md, "TLS").
  std::string tls_cert;
  std::string tls_key;
  // HTTP deadlines (api/http/server.hpp, ServerLimits): a request's head (and
  // a TLS handshake), its body, each write of a response.
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  int threads = 0;  // 0: one per core
  // --shutdown-timeout-ms: after SIGTERM, how long busy connections may take
  // to finish before they are closed and the process exits.
  std::chrono::milliseconds drain_grace{10'000};
  std::vector<std::string> cors_origins;  // empty: CORS off
  // A queued job says waiting_on no_workers after this long without a lease request.
  std::chrono::milliseconds no_worker_after{30'000};
  std::vector<AlertRule> alert_rules;  // [[alerts]] of the config file
  // OTLP/HTTP base URL that job spans go to (docs/tracing.md); empty: off.
  std::string otlp_endpoint;
  // Resident memory beyond which new work is refused with 503; 0: 80% of the
  // cgroup's or the machine's memory (server/memory_guard.hpp).
  std::uint64_t max_memory_bytes = 0;
  // [[queues]] of the config file: settings applied at start-up.
  struct QueueConfig {
    std::string name;
    std::optional<std::int64_t> max_queued;  // absent: left as stored
  };
  std::vector<QueueConfig> queues;
  log::Format log_format = log::Format::kText;
  log::Level log_level = log::Level::kInfo;
  // Access control (docs/security.md): the [[tokens]] of the config file and
  // ERRAND_ADMIN_TOKEN. With neither, every request is allowed and only a
  // loopback address is served, unless `insecure`.
  std::vector<TokenConfig> tokens;
  std::optional<std::string> admin_token;
  bool insecure = false;
};

// Runs until a signal asks it to stop. Returns the process exit code.
int serve(const ServeOptions& options);

// `errand migrate`: applies a PostgreSQL store's migrations; the exit status.
int migrate_store(const std::string& store);

}  // namespace errand::server
