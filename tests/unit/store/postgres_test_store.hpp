// A store for the Broker tests on PostgreSQL: a database of its own per
// test, on the throwaway server the test fixture starts
// (scripts/postgres-for-tests; ctest's store_postgres_test passes its URL
// in ERRAND_TEST_POSTGRES). No backend without that variable.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "broker_conformance.hpp"
#include "store/postgres/pg_connection.hpp"
#include "store/postgres/postgres_broker.hpp"

namespace errand::conformance {

inline std::string server_url() {
  const char* url = std::getenv("ERRAND_TEST_POSTGRES");
  return url ? url : "";
}

// The server URL with another database: its path is "/postgres".
inline std::string url_of(const std::string& database) {
  std::string url = server_url();
  const auto at = url.find("/postgres");
  if (at == std::string::npos) throw std::runtime_error("ERRAND_TEST_POSTGRES names no /postgres");
  return url.replace(at, 9, "/" + database);
}

// A new, empty database, dropped at the end of the test.
class PostgresStore final : public BrokerStore {
 public:
  PostgresStore() {
    static std::atomic<int> counter{0};
    name_ = "errand_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    postgres::PgConnection admin(server_url());
    admin.exec("CREATE DATABASE " + name_);
  }
  ~PostgresStore() override {
    try {
      postgres::PgConnection admin(server_url());
      admin.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const postgres::PgError&) {
      // The server went away; it takes its databases with it.
    }
  }
  std::string url() const { return url_of(name_); }
  Result<std::unique_ptr<Broker>> open(const StoreOptions& options) override {
    postgres::PostgresOptions o;
    o.url = url_of(name_);
    o.pool_size = 4;
    o.retention_ms = options.retention_ms;
    o.no_worker_after_ms = options.no_worker_after_ms;
    return postgres::open_postgres_broker(o);
  }

 private:
  std::string name_;
};

inline std::vector<BrokerBackend> postgres_backends() {
  if (server_url().empty()) return {};
  return {{"Postgres", [] { return std::make_unique<PostgresStore>(); }, false, false}};
}

}  // namespace errand::conformance
