#include "store/postgres/schema.hpp"

#include <array>
#include <string>
#include <string_view>

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
-- Whether a queue has a job running (waiting_on: its workers are busy, not gone).
CREATE INDEX jobs_running ON errand.jobs (queue) WHERE state = 'running';
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
-- No index: appending is the hot path, and a read sums at most the deltas
-- of the last few seconds.
CREATE TABLE errand.queue_counts (
  queue text NOT NULL,
  kind text NOT NULL,
  n bigint NOT NULL
);

-- Who changed what, for the instances that LISTEN on channel 'errand':
-- '<instance>|j|<job id>' after any change of an existing job,
-- '<instance>|q|<queue>' when a job becomes ready. <instance> is the session's errand.instance
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
    -- Nobody can be waiting on a job that did not exist: no job notification.
    IF NEW.state = 'queued' THEN
      PERFORM pg_notify('errand', me || '|q|' || NEW.queue);
    END IF;
    RETURN NULL;
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
  IF NEW.state = 'queued' AND OLD.state <> 'queued' THEN
    PERFORM pg_notify('errand', me || '|q|' || NEW.queue);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_changed AFTER INSERT OR UPDATE OR DELETE ON errand.jobs
  FOR EACH ROW EXECUTE FUNCTION errand.on_job_change();
)sql";

// errand.enqueue(): a job made inside the application's own transaction
// (docs/postgres.md). It checks what POST /v1/queues/{queue}/jobs checks and
// makes the same row and timeline; the trigger of v1 wakes workers and
// waiters on every instance when, and only if, the transaction commits.
constexpr const char* kV2 = R"sql(
CREATE FUNCTION errand.rfc3339(ms bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(to_timestamp(ms / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- A UUIDv7 (RFC 9562) for `at_ms`: 48 bits of time, then random bits.
CREATE FUNCTION errand.uuid_v7(at_ms bigint) RETURNS uuid LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  b bytea := uuid_send(gen_random_uuid());  -- random, variant bits set
BEGIN
  b := overlay(b PLACING substring(int8send(at_ms) FROM 3) FROM 1 FOR 6);
  b := set_byte(b, 6, (get_byte(b, 6) & 15) | 112);  -- version 7
  RETURN encode(b, 'hex')::uuid;
END $$;

-- An option that must be an integer in [lo, hi]; `dflt` when absent.
CREATE FUNCTION errand.option_integer(o jsonb, name text, lo bigint, hi bigint, dflt bigint)
RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF NOT o ? name THEN RETURN dflt; END IF;
  IF jsonb_typeof(o->name) <> 'number' OR (o->>name)::numeric <> trunc((o->>name)::numeric)
     OR (o->>name)::numeric NOT BETWEEN lo AND hi THEN
    RAISE EXCEPTION 'errand.enqueue: % must be an integer from % to %', name, lo, hi
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN (o->>name)::bigint;
END $$;

CREATE FUNCTION errand.option_number(o jsonb, name text, lo double precision,
                                     hi double precision, dflt double precision)
RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF NOT o ? name THEN RETURN dflt; END IF;
  IF jsonb_typeof(o->name) <> 'number' OR (o->>name)::double precision NOT BETWEEN lo AND hi THEN
    RAISE EXCEPTION 'errand.enqueue: % must be a number from % to %', name, lo, hi
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN (o->>name)::double precision;
END $$;

-- An option that must be an RFC 3339 time; in ms since the epoch.
CREATE FUNCTION errand.option_time(o jsonb, name text) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF jsonb_typeof(o->name) <> 'string'
     OR (o->>name) !~ '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$' THEN
    RAISE EXCEPTION 'errand.enqueue: % must be an RFC 3339 time', name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN floor(extract(epoch FROM (o->>name)::timestamptz) * 1000)::bigint;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
  RAISE EXCEPTION 'errand.enqueue: % must be an RFC 3339 time', name
    USING ERRCODE = 'invalid_parameter_value';
END $$;

CREATE FUNCTION errand.enqueue(queue text, payload jsonb, options jsonb DEFAULT '{}')
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  now_ms bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  o jsonb := coalesce(options, '{}');
  max_duration constant bigint := 365::bigint * 24 * 3600 * 1000;
  k text;
  v_priority integer := 0;
  v_run_at bigint := now_ms;
  v_max_attempts integer := 5;
  v_initial bigint := 1000;
  v_multiplier double precision := 2;
  v_max bigint := 3600000;
  v_jitter double precision := 0.2;
  v_lease bigint := 30000;
  v_deadline bigint;
  v_key text;
  v_tags text[] := '{}';
  v_traceparent text := '';
  v_state text;
  v_id uuid;
  v_seq integer := 1;
  existing record;
  limit_row record;
  waiting bigint;
  payload_text text;

BEGIN
  IF queue IS NULL OR queue !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' THEN
    RAISE EXCEPTION 'errand.enqueue: queue must be 1 to 128 of A-Z a-z 0-9 . _ - starting with a letter or digit, not %', coalesce(quote_literal(queue), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF payload IS NULL THEN
    RAISE EXCEPTION 'errand.enqueue: payload is required (JSON null is ''null''::jsonb)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  payload_text := payload::text;
  IF octet_length(payload_text) > 1048576 THEN
    RAISE EXCEPTION 'errand.enqueue: payload is % bytes; the limit is 1048576', octet_length(payload_text)
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF jsonb_typeof(o) <> 'object' THEN
    RAISE EXCEPTION 'errand.enqueue: options must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR k IN SELECT jsonb_object_keys(o) LOOP
    IF k NOT IN ('priority', 'delay_ms', 'run_at', 'max_attempts', 'backoff', 'lease_ms', 'ttl_ms',
                 'deadline', 'idempotency_key', 'tags', 'traceparent') THEN
      RAISE EXCEPTION 'errand.enqueue: unknown option %', k USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  v_priority := errand.option_integer(o, 'priority', -1000000, 1000000, 0);
  IF o ? 'delay_ms' AND o ? 'run_at' THEN
    RAISE EXCEPTION 'errand.enqueue: give delay_ms or run_at, not both' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF o ? 'delay_ms' THEN v_run_at := now_ms + errand.option_integer(o, 'delay_ms', 0, max_duration, 0); END IF;
  IF o ? 'run_at' THEN v_run_at := errand.option_time(o, 'run_at'); END IF;
  v_max_attempts := errand.option_integer(o, 'max_attempts', 1, 1000, 5);
  IF o ? 'backoff' THEN
    IF jsonb_typeof(o->'backoff') <> 'object' THEN
      RAISE EXCEPTION 'errand.enqueue: backoff must be an object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k IN SELECT jsonb_object_keys(o->'backoff') LOOP
      IF k NOT IN ('initial_ms', 'multiplier', 'max_ms', 'jitter') THEN
        RAISE EXCEPTION 'errand.enqueue: unknown option backoff.%', k USING ERRCODE = 'invalid_parameter_value';
      END IF;
    END LOOP;
    v_initial := errand.option_integer(o->'backoff', 'initial_ms', 0, max_duration, v_initial);
    v_multiplier := errand.option_number(o->'backoff', 'multiplier', 1, 1000, v_multiplier);
    v_max := errand.option_integer(o->'backoff', 'max_ms', 0, max_duration, v_max);
    v_jitter := errand.option_number(o->'backoff', 'jitter', 0, 1, v_jitter);
  END IF;
  v_lease := errand.option_integer(o, 'lease_ms', 1, 86400000, 30000);
  IF o ? 'ttl_ms' AND o ? 'deadline' THEN
    RAISE EXCEPTION 'errand.enqueue: give ttl_ms or deadline, not both' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF o ? 'ttl_ms' THEN v_deadline := now_ms + errand.option_integer(o, 'ttl_ms', 1, max_duration, 0); END IF;
  IF o ? 'deadline' THEN v_deadline := errand.option_time(o, 'deadline'); END IF;
  IF o ? 'idempotency_key' THEN
    IF jsonb_typeof(o->'idempotency_key') <> 'string' OR length(o->>'idempotency_key') NOT BETWEEN 1 AND 256 THEN
      RAISE EXCEPTION 'errand.enqueue: idempotency_key must be a string of 1 to 256 bytes' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_key := o->>'idempotency_key';
  END IF;
  IF o ? 'tags' THEN
    IF jsonb_typeof(o->'tags') <> 'array' OR jsonb_array_length(o->'tags') > 32
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(o->'tags') t
                  WHERE jsonb_typeof(t) <> 'string' OR octet_length(t #>> '{}') NOT BETWEEN 1 AND 128) THEN
      RAISE EXCEPTION 'errand.enqueue: tags must be at most 32 strings of 1 to 128 bytes' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_tags := ARRAY(SELECT jsonb_array_elements_text(o->'tags'));
  END IF;
  IF o ? 'traceparent' THEN
    IF (o->>'traceparent') !~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$' THEN
      RAISE EXCEPTION 'errand.enqueue: traceparent must be a W3C traceparent' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_traceparent := o->>'traceparent';
  END IF;

  -- The same key with the same payload is the same job; with another, an error.
  IF v_key IS NOT NULL THEN
    SELECT j.id, j.payload INTO existing FROM errand.jobs j
      WHERE j.queue = enqueue.queue AND j.idempotency_key = v_key;
    IF FOUND THEN
      IF existing.payload::jsonb = payload THEN RETURN existing.id; END IF;
      RAISE EXCEPTION 'errand.enqueue: idempotency key % is already used with a different payload', quote_literal(v_key)
        USING ERRCODE = 'unique_violation';
    END IF;
  END IF;
  -- A queue with max_queued: counted under a lock on its row, held until
  -- commit. A queue without one takes no lock: enqueues never wait on each other.
  SELECT q.max_queued INTO limit_row FROM errand.queues q WHERE q.name = enqueue.queue;
  IF FOUND AND limit_row.max_queued > 0 THEN
    SELECT q.max_queued INTO limit_row FROM errand.queues q WHERE q.name = enqueue.queue FOR UPDATE;
  END IF;
  IF FOUND AND limit_row.max_queued > 0 THEN
    SELECT coalesce(sum(n), 0) INTO waiting FROM errand.queue_counts c
      WHERE c.queue = enqueue.queue AND c.kind IN ('queued', 'scheduled');
    IF waiting + 1 > limit_row.max_queued THEN
      RAISE EXCEPTION 'errand.enqueue: queue % is full: % jobs wait, max_queued is %', queue, waiting, limit_row.max_queued
        USING ERRCODE = 'program_limit_exceeded';
    END IF;
  END IF;
  INSERT INTO errand.queues (name) VALUES (queue) ON CONFLICT DO NOTHING;

  v_id := errand.uuid_v7(now_ms);
  v_state := CASE WHEN v_run_at > now_ms THEN 'scheduled' ELSE 'queued' END;
  IF v_run_at < now_ms THEN v_run_at := now_ms; END IF;
  INSERT INTO errand.timeline (owner, seq, event) VALUES (v_id, 1,
    format('{"seq":1,"at":"%s","type":"enqueued","queue":"%s","priority":%s}',
           errand.rfc3339(now_ms), queue, v_priority));
  IF v_state = 'scheduled' THEN
    v_seq := 2;
    INSERT INTO errand.timeline (owner, seq, event) VALUES (v_id, 2,
      format('{"seq":2,"at":"%s","type":"scheduled","run_at":"%s"}',
             errand.rfc3339(now_ms), errand.rfc3339(v_run_at)));
  END IF;
  INSERT INTO errand.jobs (id, queue, state, priority, max_attempts, backoff_initial_ms,
    backoff_multiplier, backoff_max_ms, backoff_jitter, lease_ms, granted_lease_ms, created_at,
    run_at, deadline, idempotency_key, tags, traceparent, timeline_seq, payload)
  VALUES (v_id, queue, v_state, v_priority, v_max_attempts, v_initial, v_multiplier, v_max,
    v_jitter, v_lease, v_lease, now_ms, v_run_at, v_deadline, v_key, v_tags, v_traceparent, v_seq,
    payload_text);
  RETURN v_id;
END $$;
)sql";

// Counts and notifications once a statement, not once a row: a lease or a
// group of acks changes many jobs in one UPDATE, and a row trigger's
// INSERT and NOTIFY for each of them cost more than the change itself.
// Every state change goes out with its job, queue, states and time, so that
// other servers can stream it (GET /v1/events); a change within a state by
// job id only; 35 a notification (NOTIFY's payload is under 8000 bytes). (PostgreSQL lets a trigger
// with transition tables fire on one kind of statement only: three triggers.)
//
// And one index fewer: jobs_queued_since, on (queue, run_at) of ready jobs,
// looked to the planner as good as jobs_ready for a claim of a queue it had
// no statistics for yet (a new queue), and it then read and sorted the
// whole backlog on every lease. A queue's oldest ready job is now found in
// jobs_ready, level by level of priority (errand.oldest_ready).
constexpr const char* kStatementTriggers = R"sql(
DROP INDEX errand.jobs_queued_since;
CREATE FUNCTION errand.oldest_ready(q text) RETURNS bigint LANGUAGE sql STABLE AS $$
  WITH RECURSIVE levels AS (
    (SELECT priority, run_at FROM errand.jobs WHERE queue = q AND state = 'queued'
     ORDER BY priority DESC, run_at, id LIMIT 1)
    UNION ALL
    SELECT n.priority, n.run_at FROM levels l CROSS JOIN LATERAL
      (SELECT priority, run_at FROM errand.jobs
       WHERE queue = q AND state = 'queued' AND priority < l.priority
       ORDER BY priority DESC, run_at, id LIMIT 1) n)
  SELECT min(run_at) FROM levels
$$;

DROP TRIGGER jobs_changed ON errand.jobs;
DROP FUNCTION errand.on_job_change();

-- Each trigger reads its transition tables twice: once for the counts,
-- once for the notifications (35 entries a notification; an entry is at
-- most 200 bytes: '<instance>|c|<id> <queue> <from> <to> <at ms>,...' with
-- '-' for no state, '<instance>|j|<id>,...', '<instance>|q|<queue>').
CREATE FUNCTION errand.on_jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  me text := coalesce(current_setting('errand.instance', true), '');
  at text := ((extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text;
  note text;
BEGIN
  INSERT INTO errand.queue_counts
    SELECT queue, state, count(*) FROM new_rows GROUP BY 1, 2
    UNION ALL SELECT queue, 'enqueued_total', count(*) FROM new_rows GROUP BY 1;
  FOR note IN
    SELECT '|c|' || string_agg(entry, ',') FROM (
      SELECT id || ' ' || queue || ' - ' || state || ' ' || at AS entry,
             (row_number() OVER () - 1) / 35 AS chunk
      FROM new_rows) e
    GROUP BY chunk
    UNION ALL
    SELECT DISTINCT '|q|' || queue FROM new_rows WHERE state = 'queued'
  LOOP
    PERFORM pg_notify('errand', me || note);
  END LOOP;
  RETURN NULL;
END $$;

CREATE FUNCTION errand.on_jobs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  me text := coalesce(current_setting('errand.instance', true), '');
  at text := ((extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text;
  note text;
BEGIN
  WITH moved AS (
    SELECT n.queue, o.state AS was, n.state AS now
    FROM old_rows o JOIN new_rows n USING (id) WHERE o.state <> n.state)
  INSERT INTO errand.queue_counts
    SELECT queue, kind, sum(n) FROM (
      SELECT queue, was AS kind, -1 AS n FROM moved
      UNION ALL SELECT queue, now, 1 FROM moved
      UNION ALL SELECT queue, now || '_total', 1 FROM moved WHERE now IN ('succeeded', 'failed')
    ) d GROUP BY 1, 2 HAVING sum(n) <> 0;
  -- A state change with its details; a change within a state (a heartbeat,
  -- progress) by id only.
  FOR note IN
    SELECT kind || string_agg(entry, ',') FROM (
      SELECT CASE WHEN o.state <> n.state THEN '|c|' ELSE '|j|' END AS kind,
             CASE WHEN o.state <> n.state
                  THEN n.id || ' ' || n.queue || ' ' || o.state || ' ' || n.state || ' ' || at
                  ELSE n.id::text END AS entry,
             (row_number() OVER (PARTITION BY o.state <> n.state) - 1) / 35 AS chunk
      FROM old_rows o JOIN new_rows n USING (id)) e
    GROUP BY kind, chunk
    UNION ALL
    SELECT DISTINCT '|q|' || n.queue FROM old_rows o JOIN new_rows n USING (id)
    WHERE n.state = 'queued' AND o.state <> 'queued'
  LOOP
    PERFORM pg_notify('errand', me || note);
  END LOOP;
  RETURN NULL;
END $$;

CREATE FUNCTION errand.on_jobs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  me text := coalesce(current_setting('errand.instance', true), '');
  at text := ((extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text;
  note text;
BEGIN
  INSERT INTO errand.queue_counts SELECT queue, state, -count(*) FROM old_rows GROUP BY 1, 2;
  FOR note IN
    SELECT '|c|' || string_agg(entry, ',') FROM (
      SELECT id || ' ' || queue || ' ' || state || ' - ' || at AS entry,
             (row_number() OVER () - 1) / 35 AS chunk
      FROM old_rows) e
    GROUP BY chunk
  LOOP
    PERFORM pg_notify('errand', me || note);
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_inserted AFTER INSERT ON errand.jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION errand.on_jobs_inserted();
CREATE TRIGGER jobs_updated AFTER UPDATE ON errand.jobs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION errand.on_jobs_updated();
CREATE TRIGGER jobs_deleted AFTER DELETE ON errand.jobs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION errand.on_jobs_deleted();
)sql";

// Flows (docs/postgres.md): one row per flow holding its record, the JSON
// both stores keep (engine/flow_record.hpp), beside the columns that lists
// filter and sort on, idempotency keys and retention need. Its timeline is
// in errand.timeline under the flow's id. A trigger tells the instances of
// every later change of a flow: '<instance>|f|<flow id>' (a row trigger:
// a statement changes one flow, and a purge at most 100).
constexpr const char* kFlows = R"sql(
CREATE TABLE errand.flows (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  state text NOT NULL CHECK (state IN
    ('running', 'compensating', 'succeeded', 'failed', 'cancelled')),
  created_at bigint NOT NULL,
  finished_at bigint,
  idempotency_key text,
  record text NOT NULL
);
CREATE UNIQUE INDEX flows_idempotency ON errand.flows (idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- Listing by state, newest first (ids are time-ordered); the primary key lists them all.
CREATE INDEX flows_by_state ON errand.flows (state, id);
-- Retention: a finished flow is deleted `retention` after it finished.
CREATE INDEX flows_finished ON errand.flows (finished_at) WHERE finished_at IS NOT NULL;

CREATE FUNCTION errand.on_flow_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('errand', coalesce(current_setting('errand.instance', true), '') || '|f|' ||
                    OLD.id);
  RETURN NULL;
END $$;
CREATE TRIGGER flows_changed AFTER UPDATE OR DELETE ON errand.flows
  FOR EACH ROW EXECUTE FUNCTION errand.on_flow_change();
)sql";

// When workers last asked for each queue, through any server: each server
// writes what it saw at most once a second, so that waiting_on's
// no_workers on one server knows of workers that use another.
constexpr const char* kWorkerActivity = R"sql(
CREATE TABLE errand.worker_activity (
  queue text PRIMARY KEY,
  asked_at bigint NOT NULL  -- ms; the time of the last lease request
);
)sql";

// errand writes the counts and notifications of its own changes itself, in
// the statement that writes their timeline events (PgChange::write): it
// knows every change, and the triggers' plpgsql and queries were a fifth of
// PostgreSQL's CPU a round trip. The insert trigger stays for the jobs
// errand.enqueue() makes in an application's transaction: only for sessions
// that are not an errand server's (no errand.instance), so an errand
// server's statements call no trigger function at all.
constexpr const char* kCountsByErrand = R"sql(
DROP TRIGGER jobs_updated ON errand.jobs;
DROP FUNCTION errand.on_jobs_updated();
DROP TRIGGER jobs_deleted ON errand.jobs;
DROP FUNCTION errand.on_jobs_deleted();
DROP TRIGGER jobs_inserted ON errand.jobs;
CREATE TRIGGER jobs_inserted AFTER INSERT ON errand.jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
  WHEN (coalesce(current_setting('errand.instance', true), '') = '')
  EXECUTE FUNCTION errand.on_jobs_inserted();
)sql";

// No trigger on errand.jobs at all: errand.enqueue() writes the counts and
// notifications of its job itself, as errand's servers do. The trigger of
// version 6 called no function in a server's session, but PostgreSQL still
// captured every inserted row into its transition table and prepared its
// WHEN clause on every insert (a gain measured within noise: W1 about +5%).
// errand.make_job (make_job_sql) makes the job as version 2's enqueue did;
// a replay of an idempotency key returns the job made before, not counted
// again.
constexpr const char* kEnqueueCounts = R"sql(
DROP TRIGGER jobs_inserted ON errand.jobs;
DROP FUNCTION errand.on_jobs_inserted();
DROP FUNCTION errand.enqueue(text, jsonb, jsonb);
CREATE FUNCTION errand.enqueue(queue text, payload jsonb, options jsonb DEFAULT '{}')
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  me text := coalesce(current_setting('errand.instance', true), '');
  v_key text := CASE WHEN jsonb_typeof(options) = 'object' THEN options->>'idempotency_key' END;
  replay boolean := v_key IS NOT NULL AND EXISTS (
    SELECT 1 FROM errand.jobs j WHERE j.queue = enqueue.queue AND j.idempotency_key = v_key);
  made uuid := errand.make_job(queue, payload, options);
  made_state text;
BEGIN
  IF replay THEN RETURN made; END IF;
  SELECT j.state INTO made_state FROM errand.jobs j WHERE j.id = made;
  INSERT INTO errand.queue_counts (queue, kind, n)
    VALUES (queue, made_state, 1), (queue, 'enqueued_total', 1);
  PERFORM pg_notify('errand', me || '|c|' || made || ' ' || queue || ' - ' || made_state || ' ' ||
                    floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint);
  IF made_state = 'queued' THEN PERFORM pg_notify('errand', me || '|q|' || queue); END IF;
  RETURN made;
END $$;
)sql";
constexpr int kEnqueueCountsVersion = 7;

// A write a server makes on a row as it read it before, without reading it
// again (PostgresBroker::ack_jobs, on the rows a lease here left): the
// statement passes whether every row it meant to write was still so, and
// this fails the transaction if one was not. The server then goes again,
// reading (changed_since_read(), job_rows.hpp).
constexpr const char* kAsRead = R"sql(
CREATE FUNCTION errand.as_read(held boolean) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT held THEN
    RAISE EXCEPTION 'a row changed since this errand server read it' USING ERRCODE = 'ER001';
  END IF;
  RETURN true;
END $$;
)sql";

void replace_all(std::string& text, std::string_view what, std::string_view with) {
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
}

// errand.make_job: version 2's errand.enqueue as it shipped, under another
// name. Taken from its text, not renamed (ALTER FUNCTION ... RENAME): the
// body names its parameters by the function's name (enqueue.queue).
std::string make_job_sql() {
  const std::string_view v2 = kV2;
  const auto from = v2.find("CREATE FUNCTION errand.enqueue(");
  const std::string_view end = "END $$;";
  const auto to = v2.find(end, from);
  std::string f(v2.substr(from, to + end.size() - from));
  replace_all(f, "CREATE FUNCTION errand.enqueue(", "CREATE FUNCTION errand.make_job(");
  replace_all(f, "enqueue.queue", "make_job.queue");
  return f +
         "\nCOMMENT ON FUNCTION errand.make_job(text, jsonb, jsonb) IS "
         "'errand.enqueue() without its counts and notifications: call errand.enqueue()';";
}

constexpr std::array kMigrations = {
    kV1,    kV2, kStatementTriggers, kFlows, kWorkerActivity, kCountsByErrand, kEnqueueCounts,
    kAsRead};

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
      if (version + 1 == kEnqueueCountsVersion) c.exec(make_job_sql());
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
