// A JobRecord as a row of errand.jobs (schema.cpp) and back.
#pragma once

#include <string>

#include "core/job.hpp"
#include "store/postgres/pg_connection.hpp"

namespace errand::postgres {

// The record's columns, in the order read_job_row() reads them. A SELECT that
// wants the payload or the result names them after these.
extern const char* const kJobColumns;
inline constexpr int kJobColumnCount = 33;

JobRecord read_job_row(const PgResult& rows, int row);

// INSERT parameters: kJobColumns, then the payload. An idempotency key
// taken fails the statement (key_taken()), so that it can go without
// waiting for its answer (PgConnection::defer): no ON CONFLICT.
PgParams insert_job_params(const JobRecord& r, const std::string& payload_json);
extern const char* const kInsertJobSql;
// A job's idempotency key was taken by a transaction that committed first:
// the transaction may be tried again, and then replays that job.
inline bool key_taken(const PgError& e) {
  return e.unique_violation() && e.constraint() == "jobs_idempotency";
}

// UPDATE parameters: the id, then every column a transition may change.
PgParams update_job_params(const JobRecord& r);
extern const char* const kUpdateJobSql;
// The same, and `result` = $19.
extern const char* const kUpdateJobWithResultSql;

// Many jobs in one statement: PgParams::columns() of their insert_job_params()
// (or update_job_params(), with the result last for the _with_result form).
// Inserting fails on an idempotency key taken, as kInsertJobSql.
extern const char* const kInsertJobsSql;
extern const char* const kUpdateJobsSql;
extern const char* const kUpdateJobsWithResultSql;

// The same on rows as this server read them before, without reading them
// again: each row is written only if it is still the version that read
// saw (its xmin, the transaction that wrote it: the last parameter for one
// job, $19 or $20, the last column for many), and the statement fails
// otherwise (changed_since_read()), as errand.as_read() does (schema.cpp).
extern const char* const kUpdateJobAsReadSql;
extern const char* const kUpdateJobWithResultAsReadSql;
extern const char* const kUpdateJobsWithResultAsReadSql;
// A row was not as read: the transaction may be tried again, reading.
inline bool changed_since_read(const PgError& e) { return e.sqlstate() == "ER001"; }

}  // namespace errand::postgres
