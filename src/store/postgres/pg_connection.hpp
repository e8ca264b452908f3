// One libpq connection, and the little of libpq the PostgreSQL store uses:
// statements with parameters (values always travel apart from the SQL text,
// so nothing a client sends is ever parsed as SQL), prepared statements,
// LISTEN/NOTIFY, and SQLSTATEs.
//
// Errors are exceptions here (PgError), because a transaction is a run of
// statements any of which can fail and all of which then fail the same way;
// postgres_broker.cpp turns them into a Status at its edge.
//
// Not thread-safe: one thread uses a connection at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;

namespace errand::postgres {

class PgError : public std::runtime_error {
 public:
  PgError(std::string sqlstate, const std::string& message, std::string constraint = {})
      : std::runtime_error(message),
        sqlstate_(std::move(sqlstate)),
        constraint_(std::move(constraint)) {}
  // Five characters; empty when the server never answered (connection lost).
  const std::string& sqlstate() const { return sqlstate_; }
  // The connection is gone or the server is going away: try again later.
  bool connection_lost() const;
  // A serialization failure or deadlock: the transaction may simply be retried.
  bool retryable() const { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }
  bool unique_violation() const { return sqlstate_ == "23505"; }
  // The constraint a statement violated; empty if none.
  const std::string& constraint() const { return constraint_; }

 private:
  std::string sqlstate_;
  std::string constraint_;
};

// Parameter values for one statement, sent as text; nullopt is SQL NULL.
class PgParams {
 public:
  PgParams& text(std::string_view v) { return add(std::string(v)); }
  PgParams& integer(std::int64_t v) { return add(std::to_string(v)); }
  PgParams& real(double v);
  PgParams& boolean(bool v) { return add(v ? "t" : "f"); }
  PgParams& null() {
    values_.emplace_back();
    return *this;
  }
  PgParams& optional_integer(const std::optional<std::int64_t>& v) {
    return v ? integer(*v) : null();
  }
  // Text that is NULL when empty (columns where empty means "none").
  PgParams& text_or_null(std::string_view v) { return v.empty() ? null() : text(v); }
  // A text[] value, in PostgreSQL's array syntax with every element quoted.
  PgParams& text_array(const std::vector<std::string>& v);
  // An array value whose elements may be NULL; cast it in the SQL ($1::bigint[]).
  PgParams& array(const std::vector<std::optional<std::string>>& v);
  // Many rows' parameters as one array per column, for statements that
  // handle many rows at once (`unnest($1::uuid[], $2::text[], ...)`). Every
  // row has the same number of values.
  static PgParams columns(const std::vector<PgParams>& rows);
  std::size_t size() const { return values_.size(); }
  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  PgParams& add(std::string v) {
    values_.emplace_back(std::move(v));
    return *this;
  }
  std::vector<std::optional<std::string>> values_;
};

// The rows of one statement's answer. Columns are read by number.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* r);
  int rows() const;
  int affected() const;  // rows an INSERT, UPDATE or DELETE touched
  bool is_null(int row, int col) const;
  std::string_view text(int row, int col) const;
  std::int64_t integer(int row, int col) const;
  std::optional<std::int64_t> optional_integer(int row, int col) const;
  double real(int row, int col) const;
  bool boolean(int row, int col) const;
  // A text[] column.
  std::vector<std::string> text_array(int row, int col) const;

 private:
  friend class PgConnection;
  pg_result* raw() const { return r_.get(); }
  std::shared_ptr<pg_result> r_;
};

struct PgNotification {
  std::string channel;
  std::string payload;
};

class PgConnection {
 public:
  // Connects; throws PgError (connection_lost()) when it cannot.
  // `answer_timeout`: how long a statement may wait for its answer before
  // the connection is given up (closed; PgError, connection_lost()). It is
  // what notices a PostgreSQL frozen on a live host (stopped, a stuck
  // disk), whose kernel keeps TCP alive. Zero: no limit.
  explicit PgConnection(const std::string& url,
                        std::chrono::milliseconds answer_timeout = std::chrono::milliseconds(0));
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  bool ok() const;
  // ok(), and not closed by the server while idle (PostgreSQL restarted,
  // or ended this session): reads whatever the server sent, without
  // waiting. A connection left idle through an outage fails its next
  // statement otherwise.
  bool alive();
  // Unprepared: planned for these very values each time. Statements that
  // find rows by `= ANY($1)` go this way. A prepared one keeps the plan it
  // chose while the table was small, a scan of the whole table, and runs it
  // on a table grown large.
  PgResult exec(const std::string& sql, const PgParams& params = {});
  // Prepares `sql` under `name` once per connection, then runs it.
  PgResult run(const char* name, const char* sql, const PgParams& params = {});

  // Statements whose answer nobody needs (writes, BEGIN): sent now, their
  // answers read with the next statement that is waited for, all in one
  // round trip (libpq's pipeline mode). A transaction's writes and its
  // COMMIT then cost one round trip, not one each. A deferred statement's
  // failure is thrown by that next statement; those after it in between
  // were skipped. (So a write whose answer decides whether to commit, such
  // as a count of rows changed, is run(), not deferred: COMMIT may be the
  // next statement.)
  //
  // Only for statements with small answers: the connection blocks while
  // it sends, so PostgreSQL must never wait for us to read.
  //
  // `answer`, when given, gets the statement's answer once it is read (it
  // must outlive that): for a small answer that is wanted only after the
  // COMMIT it goes with.
  void defer(const char* name, const char* sql, const PgParams& params = {},
             PgResult* answer = nullptr);
  // As exec(), deferred; one statement only.
  void defer_exec(const std::string& sql, const PgParams& params = {});
  // Inside a transaction block (open or failed).
  bool in_transaction() const;

  // LISTEN: the socket to wait on, and the notifications that arrived.
  int socket() const;
  // Reads what the server sent; false when the connection is gone.
  bool consume_input();
  std::optional<PgNotification> next_notification();

 private:
  using Deadline = std::chrono::steady_clock::time_point;
  // A statement sent whose answer is not read yet. `name`: the prepared
  // statement (null: unprepared), `preparing`: its PREPARE; they name a
  // failure. `answer`: where the answer goes (defer()), if anywhere.
  struct Sent {
    const char* name;
    bool preparing;
    PgResult* answer = nullptr;
  };
  static bool succeeded(const PgResult& r);
  PgError error_of(const PgResult& r, const std::string& what) const;
  PgError broken(const std::string& what) const;
  Deadline answer_deadline() const;
  // The next result within `deadline`; null after a statement's last.
  // Gives the connection up when the deadline passes.
  PgResult next_result(Deadline deadline, const Sent& sent);
  // One statement's answer, as PQexec would give it: its last result, or
  // its first error.
  PgResult answer_of(Deadline deadline, const Sent& sent);
  // Sends `name`'s PREPARE unless this connection has it or sent it.
  void send_prepare(const char* name, const char* sql);
  void send_prepared(const char* name, const PgParams& params, PgResult* answer = nullptr);
  void send_unprepared(const std::string& sql, const PgParams& params);
  void enter_pipeline();
  // Ends the pipeline: the answers of everything sent, the last one's
  // returned, the first failure thrown.
  PgResult sync();
  pg_conn* conn_ = nullptr;
  std::chrono::milliseconds answer_timeout_;
  std::vector<std::string> prepared_;  // sent; a failed PREPARE is taken out
  std::vector<Sent> sent_;             // in the pipeline, in order
};

// BEGIN on construction (deferred: it goes with the first statement),
// ROLLBACK unless commit() succeeded.
class PgTransaction {
 public:
  explicit PgTransaction(PgConnection& c) : c_(c) { c_.defer_exec("BEGIN"); }
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  // With the deferred statements before it, in one round trip.
  void commit() {
    c_.exec("COMMIT");
    done_ = true;
  }

 private:
  PgConnection& c_;
  bool done_ = false;
};

}  // namespace errand::postgres
