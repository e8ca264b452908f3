// PostgresBroker: the Broker on a PostgreSQL database that any number of
// errand instances share (docs/postgres.md). The database holds every job,
// queue and timeline; an instance keeps no state of its own that another
// would need.
//
// - Each operation is one transaction on a connection of a small pool. A
//   change locks the rows it changes (SELECT … FOR UPDATE; leases take ready
//   jobs with FOR UPDATE SKIP LOCKED), applies engine/job_transitions, and
//   writes the rows back; the callback runs after COMMIT returned.
// - Instances hear of each other's changes by LISTEN/NOTIFY: a trigger on
//   errand.jobs notifies on commit, which wakes waiters, long-poll leases and
//   event streams on every instance. A slow sweep backs it up.
// - Timers (run_at, lease expiry, deadlines, retention) are swept by every
//   instance with FOR UPDATE SKIP LOCKED, so each fires once, wherever.
// - A flow is a row of errand.flows; the transaction that ends one of its
//   jobs advances it too, under the flow row's lock (pg_flows.cpp), with the
//   embedded store's rules (engine/flow_driver.hpp).
//
// Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "engine/broker.hpp"

namespace errand::postgres {

struct PostgresOptions {
  // A libpq connection URI or key=value string: postgresql://user@host/db.
  std::string url;
  // Connections (and threads) that run transactions.
  int pool_size = 8;
  Millis retention_ms = 7LL * 24 * 3600 * 1000;
  Millis no_worker_after_ms = kDefaultNoWorkerAfterMs;
  // The safety sweep: how often each instance checks timers and parked
  // leases without being told to, and retries a lost connection.
  Millis sweep_ms = 1000;
  // How long a statement may wait for PostgreSQL's answer before its
  // connection is given up and the request fails with 503: what notices a
  // PostgreSQL frozen on a live host. 0: no limit. Migrations have none.
  Millis answer_timeout_ms = 15'000;
};

// Connects, applies the schema's migrations, and starts the listener and
// the timer sweep. Fails (kUnavailable) when PostgreSQL cannot be reached.
Result<std::unique_ptr<Broker>> open_postgres_broker(const PostgresOptions& options);

// `errand migrate`: applies the migrations alone; returns the version.
Result<int> migrate_postgres(const std::string& url);

}  // namespace errand::postgres
