#include "store/postgres/job_rows.hpp"

#include <string>
#include <vector>

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
    "$31, $32, $33, $34)";

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

// The columns of kInsertJobSql's parameters and kUpdateJobSql's, with
// their types, in parameter order.
namespace {

struct Column {
  const char* name;
  const char* type;
};

constexpr Column kRun[] = {
    {"started_at", "bigint"},    {"finished_at", "bigint"}, {"lease_expires_at", "bigint"},
    {"deadline", "bigint"},      {"worker", "text"},        {"lease_token", "text"},
    {"error_message", "text"},   {"error_type", "text"},    {"error_detail", "text"},
    {"error_attempt", "integer"}};

std::vector<Column> insert_columns() {
  std::vector<Column> c = {{"id", "uuid"},
                           {"queue", "text"},
                           {"state", "text"},
                           {"priority", "integer"},
                           {"attempt", "integer"},
                           {"max_attempts", "integer"},
                           {"backoff_initial_ms", "bigint"},
                           {"backoff_multiplier", "double precision"},
                           {"backoff_max_ms", "bigint"},
                           {"backoff_jitter", "double precision"},
                           {"lease_ms", "bigint"},
                           {"granted_lease_ms", "bigint"},
                           {"created_at", "bigint"},
                           {"run_at", "bigint"}};
  c.insert(c.end(), std::begin(kRun), std::end(kRun));
  c.insert(c.end(), {{"progress", "text"},
                     {"cancel_requested", "boolean"},
                     {"idempotency_key", "text"},
                     // An array of arrays cannot be unnested row by row: each
                     // row's tags travel as the text of a text[] and are cast.
                     {"tags", "text"},
                     {"traceparent", "text"},
                     {"timeline_seq", "integer"},
                     {"flow_id", "uuid"},
                     {"flow_step", "text"},
                     {"flow_compensating", "boolean"},
                     {"payload", "text"}});
  return c;
}

std::vector<Column> update_columns(bool with_result, bool as_read = false) {
  std::vector<Column> c = {{"id", "uuid"},
                           {"state", "text"},
                           {"attempt", "integer"},
                           {"granted_lease_ms", "bigint"},
                           {"run_at", "bigint"}};
  c.insert(c.end(), std::begin(kRun), std::end(kRun));
  c.insert(c.end(),
           {{"progress", "text"}, {"cancel_requested", "boolean"}, {"timeline_seq", "integer"}});
  if (with_result) c.push_back({"result", "text"});
  if (as_read) c.push_back({"read_xmin", "xid"});
  return c;
}

// unnest($1::uuid[], $2::text[], ...) AS u(id, queue, ...)
std::string unnest_columns(const std::vector<Column>& columns) {
  std::string args, names;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) args += ", ", names += ", ";
    args += "$" + std::to_string(i + 1) + "::" + columns[i].type + "[]";
    names += columns[i].name;
  }
  return "unnest(" + args + ") AS u(" + names + ")";
}

std::string insert_jobs_sql() {
  const auto columns = insert_columns();
  std::string names, values;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) names += ", ", values += ", ";
    names += columns[i].name;
    values += std::string("u.") + columns[i].name;
    if (std::string_view(columns[i].name) == "tags") values += "::text[]";
  }
  return "INSERT INTO errand.jobs (" + names + ") SELECT " + values + " FROM " +
         unnest_columns(columns);
}

std::string update_jobs_sql(bool with_result, bool as_read = false) {
  const auto columns = update_columns(with_result, as_read);
  std::string set;
  for (std::size_t i = 1; i < columns.size() - (as_read ? 1 : 0); ++i) {
    if (i > 1) set += ", ";
    set += std::string(columns[i].name) + " = u." + columns[i].name;
  }
  // `j.id = ANY($1)` as well: the planner, which guesses 100 rows for an
  // unnest, otherwise may hash the ids and read the whole table.
  const std::string update = "UPDATE errand.jobs j SET " + set + " FROM " +
                             unnest_columns(columns) +
                             " WHERE j.id = u.id AND j.id = ANY($1::uuid[])";
  if (!as_read) return update;
  return "WITH written AS (" + update +
         " AND j.xmin = u.read_xmin RETURNING 1) "
         "SELECT errand.as_read(count(*) = cardinality($1::uuid[])) FROM written";
}

const std::string insert_jobs = insert_jobs_sql();
const std::string update_jobs = update_jobs_sql(false);
const std::string update_jobs_with_result = update_jobs_sql(true);
const std::string update_jobs_as_read = update_jobs_sql(true, true);
std::string update_job_as_read_sql(const char* update, int xmin_param) {
  return std::string("WITH written AS (") + update + " AND xmin = $" + std::to_string(xmin_param) +
         "::xid RETURNING 1) SELECT errand.as_read(count(*) = 1) FROM written";
}
const std::string update_job_as_read = update_job_as_read_sql(kUpdateJobSql, 19);
const std::string update_job_with_result_as_read =
    update_job_as_read_sql(kUpdateJobWithResultSql, 20);

}  // namespace

const char* const kInsertJobsSql = insert_jobs.c_str();
const char* const kUpdateJobsSql = update_jobs.c_str();
const char* const kUpdateJobsWithResultSql = update_jobs_with_result.c_str();
const char* const kUpdateJobAsReadSql = update_job_as_read.c_str();
const char* const kUpdateJobWithResultAsReadSql = update_job_with_result_as_read.c_str();
const char* const kUpdateJobsWithResultAsReadSql = update_jobs_as_read.c_str();

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
