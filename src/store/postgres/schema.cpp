#include "store/postgres/schema.hpp"

#include <array>

#include "store/postgres/pg_connection.hpp"

namespace errand::postgres {
namespace {

// Times are milliseconds since the Unix epoch (bigint), as everywhere in
// errand, so both stores compare and order them the same way.
constexpr const char* kV1 = R"sql(
CREATE TABLE errand.jobs (
  id uuid PRIMARY KEY,
  queue text NOT NULL,
  state text NOT NULL CHECK (state IN
    ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
  priority integer NOT NULL DEFAULT 0,
  attempt integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5,
  backoff_initial_ms bigint NOT NULL DEFAULT 1000,
  backoff_multiplier double precision NOT NULL DEFAULT 2,
  backoff_max_ms bigint NOT NULL DEFAULT 3600000,
  backoff_jitter double precision NOT NULL DEFAULT 0.2,
  lease_ms bigint NOT NULL DEFAULT 30000,
  granted_lease_ms bigint NOT NULL DEFAULT 30000,
  created_at bigint NOT NULL,
  run_at bigint NOT NULL,
  started_at bigint,
  finished_at bigint,
  lease_expires_at bigint,
  deadline bigint,
  worker text NOT NULL DEFAULT '',
  lease_token text NOT NULL DEFAULT '',
  error_message text,  -- NULL: no error
  error_type text,
  error_detail text,
  error_attempt integer,
  progress text NOT NULL DEFAULT '',
  cancel_requested boolean NOT NULL DEFAULT false,
  idempotency_key text,
  tags text[] NOT NULL DEFAULT '{}',
  traceparent text NOT NULL DEFAULT '',
  timeline_seq integer NOT NULL DEFAULT 0,
  flow_id uuid,
  flow_step text,
  flow_compensating boolean NOT NULL DEFAULT false,
  payload text NOT NULL,
  result text
);
-- Lease order: higher priority first, then the time the job became ready, then id.
CREATE INDEX jobs_ready ON errand.jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';
CREATE UNIQUE INDEX jobs_idempotency ON errand.jobs (queue, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- Timers: each kind is found by its own small index.
CREATE INDEX jobs_scheduled ON errand.jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_leases ON errand.jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_deadlines ON errand.jobs (deadline)
  WHERE state IN ('queued', 'scheduled') AND deadline IS NOT NULL;
-- Retention: failed jobs stay until retried or deleted (SPEC §1).
CREATE INDEX jobs_finished ON errand.jobs (finished_at)
  WHERE state IN ('succeeded', 'cancelled', 'expired');
-- A queue's oldest ready job (its age in the queue statistics).
CREATE INDEX jobs_queued_since ON errand.jobs (queue, run_at) WHERE state = 'queued';
-- Listing, newest first.
CREATE INDEX jobs_by_queue ON errand.jobs (queue, id);
CREATE INDEX jobs_by_state ON errand.jobs (state, id);

-- The timeline of a job or a flow (owner), one row per event as clients see it.
CREATE TABLE errand.timeline (
  owner uuid NOT NULL,
  seq integer NOT NULL,
  event text NOT NULL,
  PRIMARY KEY (owner, seq)
);

CREATE TABLE errand.queues (
  name text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false,
  max_queued bigint NOT NULL DEFAULT 0  -- 0: no limit
);

-- Per-queue counts as deltas, so that no two transactions ever wait on one
-- counter row: a trigger appends, the store folds them together now and then,
-- a reader sums. `kind` is a job state or enqueued_total, succeeded_total,
-- failed_total.
CREATE TABLE errand.queue_counts (
  queue text NOT NULL,
  kind text NOT NULL,
  n bigint NOT NULL
);
CREATE INDEX queue_counts_queue ON errand.queue_counts (queue);

-- Who changed what, for the instances that LISTEN on channel 'errand':
-- '<instance>|j|<job id>' after any change of a job, '<instance>|q|<queue>'
-- when a job becomes ready. <instance> is the session's errand.instance
-- setting ('' for other clients, such as an application that calls
-- errand.enqueue), so an instance can skip what it has already told itself.
-- Notifications are sent on commit only.
CREATE FUNCTION errand.on_job_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  me text := coalesce(current_setting('errand.instance', true), '');
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO errand.queue_counts VALUES
      (NEW.queue, NEW.state, 1), (NEW.queue, 'enqueued_total', 1);
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO errand.queue_counts VALUES (OLD.queue, OLD.state, -1);
    PERFORM pg_notify('errand', me || '|j|' || OLD.id);
    RETURN NULL;
  ELSIF NEW.state <> OLD.state THEN
    INSERT INTO errand.queue_counts VALUES (OLD.queue, OLD.state, -1), (NEW.queue, NEW.state, 1);
    IF NEW.state = 'succeeded' THEN
      INSERT INTO errand.queue_counts VALUES (NEW.queue, 'succeeded_total', 1);
    ELSIF NEW.state = 'failed' THEN
      INSERT INTO errand.queue_counts VALUES (NEW.queue, 'failed_total', 1);
    END IF;
  END IF;
  PERFORM pg_notify('errand', me || '|j|' || NEW.id);
  IF NEW.state = 'queued' AND (TG_OP = 'INSERT' OR OLD.state <> 'queued') THEN
    PERFORM pg_notify('errand', me || '|q|' || NEW.queue);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_changed AFTER INSERT OR UPDATE OR DELETE ON errand.jobs
  FOR EACH ROW EXECUTE FUNCTION errand.on_job_change();
)sql";

constexpr std::array kMigrations = {kV1};

}  // namespace

int latest_schema_version() { return static_cast<int>(kMigrations.size()); }

Result<int> migrate(PgConnection& c) {
  try {
    // One instance migrates at a time; the others wait here, then find the
    // work done. The lock is the transaction's: it goes with a crash.
    for (;;) {
      PgTransaction tx(c);
      c.exec("SELECT pg_advisory_xact_lock(hashtext('errand.migrate'))");
      c.exec("CREATE SCHEMA IF NOT EXISTS errand");
      c.exec(
          "CREATE TABLE IF NOT EXISTS errand.schema_version ("
          " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
      const auto have = c.exec("SELECT coalesce(max(version), 0) FROM errand.schema_version");
      const int version = static_cast<int>(have.integer(0, 0));
      if (version > latest_schema_version()) {
        return Status(Code::kUnavailable,
                      "the database's errand schema is version " + std::to_string(version) +
                          ", newer than this errand knows (" +
                          std::to_string(latest_schema_version()) + "): upgrade errand");
      }
      if (version == latest_schema_version()) {
        tx.commit();
        return version;
      }
      c.exec(kMigrations[static_cast<std::size_t>(version)]);
      c.exec("INSERT INTO errand.schema_version (version) VALUES ($1)",
             PgParams().integer(version + 1));
      tx.commit();
    }
  } catch (const PgError& e) {
    return Status(e.connection_lost() ? Code::kUnavailable : Code::kInternal,
                  std::string("migrating the errand schema: ") + e.what());
  }
}

}  // namespace errand::postgres
