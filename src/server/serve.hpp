// `errand serve`: wires the embedded store, the API and the HTTP server, runs
// them on an io_context with one thread per core, and drains on SIGTERM or
// SIGINT (SPEC §4).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/alerts.hpp"
#include "logging/log.hpp"
#include "store/embedded/group_commit.hpp"

namespace errand::server {

struct ServeOptions {
  std::string listen = "127.0.0.1:7400";
  std::string data_dir = "./errand-data";
  embedded::Durability durability = embedded::Durability::kFsync;
  std::chrono::milliseconds max_wait{60'000};
  std::size_t max_connections = 10'000;
  int threads = 0;  // 0: one per core
  std::chrono::milliseconds drain_grace{10'000};
  std::vector<std::string> cors_origins;  // empty: CORS off
  // A queued job says waiting_on no_workers after this long without a lease request.
  std::chrono::milliseconds no_worker_after{30'000};
  std::vector<AlertRule> alert_rules;  // [[alerts]] of the config file
  // OTLP/HTTP base URL that job spans go to (docs/tracing.md); empty: off.
  std::string otlp_endpoint;
  log::Format log_format = log::Format::kText;
  log::Level log_level = log::Level::kInfo;
};

// Runs until a signal asks it to stop. Returns the process exit code.
int serve(const ServeOptions& options);

}  // namespace errand::server
