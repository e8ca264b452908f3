#include "store/postgres/job_rows.hpp"

namespace errand::postgres {

const char* const kJobColumns =
    "id, queue, state, priority, attempt, max_attempts, backoff_initial_ms, "
    "backoff_multiplier, backoff_max_ms, backoff_jitter, lease_ms, granted_lease_ms, "
    "created_at, run_at, started_at, finished_at, lease_expires_at, deadline, worker, "
    "lease_token, error_message, error_type, error_detail, error_attempt, progress, "
    "cancel_requested, idempotency_key, tags, traceparent, timeline_seq, flow_id, flow_step, "
    "flow_compensating";

const char* const kInsertJobSql =
    "INSERT INTO errand.jobs (id, queue, state, priority, attempt, max_attempts, "
    "backoff_initial_ms, backoff_multiplier, backoff_max_ms, backoff_jitter, lease_ms, "
    "granted_lease_ms, created_at, run_at, started_at, finished_at, lease_expires_at, deadline, "
    "worker, lease_token, error_message, error_type, error_detail, error_attempt, progress, "
    "cancel_requested, idempotency_key, tags, traceparent, timeline_seq, flow_id, flow_step, "
    "flow_compensating, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
    "$13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, "
    "$31, $32, $33, $34) "
    "ON CONFLICT (queue, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING";

const char* const kUpdateJobSql =
    "UPDATE errand.jobs SET state = $2, attempt = $3, granted_lease_ms = $4, run_at = $5, "
    "started_at = $6, finished_at = $7, lease_expires_at = $8, deadline = $9, worker = $10, "
    "lease_token = $11, error_message = $12, error_type = $13, error_detail = $14, "
    "error_attempt = $15, progress = $16, cancel_requested = $17, timeline_seq = $18 "
    "WHERE id = $1";

const char* const kUpdateJobWithResultSql =
    "UPDATE errand.jobs SET state = $2, attempt = $3, granted_lease_ms = $4, run_at = $5, "
    "started_at = $6, finished_at = $7, lease_expires_at = $8, deadline = $9, worker = $10, "
    "lease_token = $11, error_message = $12, error_type = $13, error_detail = $14, "
    "error_attempt = $15, progress = $16, cancel_requested = $17, timeline_seq = $18, "
    "result = $19 WHERE id = $1";

namespace {

JobId parse_id(std::string_view text) { return JobId::parse(text).value_or(JobId{}); }

// started_at through error_attempt, in the order both statements name them.
void add_run(PgParams& p, const JobRecord& r) {
  p.optional_integer(r.started_at)
      .optional_integer(r.finished_at)
      .optional_integer(r.lease_expires_at)
      .optional_integer(r.deadline)
      .text(r.worker)
      .text(r.lease_token);
  if (!r.error) {
    p.null().null().null().null();
    return;
  }
  p.text(r.error->message).text(r.error->type).text(r.error->detail).integer(r.error->attempt);
}

}  // namespace

JobRecord read_job_row(const PgResult& rows, int i) {
  JobRecord r;
  r.id = parse_id(rows.text(i, 0));
  r.queue = std::string(rows.text(i, 1));
  r.state = parse_job_state(rows.text(i, 2)).value_or(JobState::kQueued);
  r.priority = static_cast<int>(rows.integer(i, 3));
  r.attempt = static_cast<int>(rows.integer(i, 4));
  r.max_attempts = static_cast<int>(rows.integer(i, 5));
  r.backoff.initial_ms = rows.integer(i, 6);
  r.backoff.multiplier = rows.real(i, 7);
  r.backoff.max_ms = rows.integer(i, 8);
  r.backoff.jitter = rows.real(i, 9);
  r.lease_ms = rows.integer(i, 10);
  r.granted_lease_ms = rows.integer(i, 11);
  r.created_at = rows.integer(i, 12);
  r.run_at = rows.integer(i, 13);
  r.started_at = rows.optional_integer(i, 14);
  r.finished_at = rows.optional_integer(i, 15);
  r.lease_expires_at = rows.optional_integer(i, 16);
  r.deadline = rows.optional_integer(i, 17);
  r.worker = std::string(rows.text(i, 18));
  r.lease_token = std::string(rows.text(i, 19));
  if (!rows.is_null(i, 20)) {
    r.error = JobError{std::string(rows.text(i, 20)), std::string(rows.text(i, 21)),
                       std::string(rows.text(i, 22)), static_cast<int>(rows.integer(i, 23))};
  }
  r.progress_json = std::string(rows.text(i, 24));
  r.cancel_requested = rows.boolean(i, 25);
  if (!rows.is_null(i, 26)) r.idempotency_key = std::string(rows.text(i, 26));
  r.tags = rows.text_array(i, 27);
  r.traceparent = std::string(rows.text(i, 28));
  r.timeline_seq = static_cast<std::uint32_t>(rows.integer(i, 29));
  if (!rows.is_null(i, 30)) {
    r.flow =
        FlowRef{parse_id(rows.text(i, 30)), std::string(rows.text(i, 31)), rows.boolean(i, 32)};
  }
  return r;
}

PgParams insert_job_params(const JobRecord& r, const std::string& payload_json) {
  PgParams p;
  p.text(r.id.to_string())
      .text(r.queue)
      .text(to_string(r.state))
      .integer(r.priority)
      .integer(r.attempt)
      .integer(r.max_attempts)
      .integer(r.backoff.initial_ms)
      .real(r.backoff.multiplier)
      .integer(r.backoff.max_ms)
      .real(r.backoff.jitter)
      .integer(r.lease_ms)
      .integer(r.granted_lease_ms)
      .integer(r.created_at)
      .integer(r.run_at);
  add_run(p, r);
  p.text(r.progress_json)
      .boolean(r.cancel_requested)
      .text_or_null(r.idempotency_key)
      .text_array(r.tags)
      .text(r.traceparent)
      .integer(r.timeline_seq);
  if (r.flow) {
    p.text(r.flow->id.to_string()).text(r.flow->step).boolean(r.flow->compensating);
  } else {
    p.null().null().boolean(false);
  }
  p.text(payload_json);
  return p;
}

PgParams update_job_params(const JobRecord& r) {
  PgParams p;
  p.text(r.id.to_string())
      .text(to_string(r.state))
      .integer(r.attempt)
      .integer(r.granted_lease_ms)
      .integer(r.run_at);
  add_run(p, r);
  p.text(r.progress_json).boolean(r.cancel_requested).integer(r.timeline_seq);
  return p;
}

}  // namespace errand::postgres
