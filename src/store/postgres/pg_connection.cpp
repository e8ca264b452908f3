#include "store/postgres/pg_connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>

namespace errand::postgres {

bool PgError::connection_lost() const {
  // Class 08: connection exceptions; 57P0x: the server is shutting down or
  // restarting; none at all: libpq lost the connection before an answer.
  return sqlstate_.empty() || sqlstate_.starts_with("08") || sqlstate_.starts_with("57P");
}

PgParams& PgParams::real(double v) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  return add(std::string(buf, static_cast<std::size_t>(n)));
}

namespace {

void append_element(std::string& out, std::string_view v) {
  out += '"';
  for (char ch : v) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  out += '"';
}

}  // namespace

PgParams& PgParams::text_array(const std::vector<std::string>& v) {
  std::string out = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ',';
    append_element(out, v[i]);
  }
  out += '}';
  return add(std::move(out));
}

PgParams& PgParams::array(const std::vector<std::optional<std::string>>& v) {
  std::string out = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ',';
    if (v[i]) {
      append_element(out, *v[i]);
    } else {
      out += "NULL";
    }
  }
  out += '}';
  return add(std::move(out));
}

PgParams PgParams::columns(const std::vector<PgParams>& rows) {
  PgParams out;
  if (rows.empty()) return out;
  std::vector<std::optional<std::string>> column(rows.size());
  for (std::size_t c = 0; c < rows.front().size(); ++c) {
    for (std::size_t r = 0; r < rows.size(); ++r) column[r] = rows[r].values_.at(c);
    out.array(column);
  }
  return out;
}

PgResult::PgResult(pg_result* r) : r_(r, PQclear) {}

int PgResult::rows() const { return r_ ? PQntuples(r_.get()) : 0; }

int PgResult::affected() const {
  if (!r_) return 0;
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::atoi(n) : 0;
}

bool PgResult::is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }

std::string_view PgResult::text(int row, int col) const {
  return {PQgetvalue(r_.get(), row, col),
          static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
}

std::int64_t PgResult::integer(int row, int col) const {
  const auto t = text(row, col);
  std::int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

std::optional<std::int64_t> PgResult::optional_integer(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return integer(row, col);
}

double PgResult::real(int row, int col) const {
  return std::strtod(std::string(text(row, col)).c_str(), nullptr);
}

bool PgResult::boolean(int row, int col) const { return text(row, col) == "t"; }

std::vector<std::string> PgResult::text_array(int row, int col) const {
  // PostgreSQL's output: {a,"b c","d\"e"}; an element is quoted when it
  // holds a delimiter, quote, backslash, space or is empty or NULL-like.
  std::vector<std::string> out;
  const auto t = text(row, col);
  if (t.size() < 2) return out;
  std::size_t i = 1;
  while (i < t.size() - 1) {
    std::string el;
    if (t[i] == '"') {
      for (++i; i < t.size() && t[i] != '"'; ++i) {
        if (t[i] == '\\') ++i;
        el += t[i];
      }
      ++i;  // the closing quote
    } else {
      for (; i < t.size() - 1 && t[i] != ','; ++i) el += t[i];
    }
    out.push_back(std::move(el));
    if (i < t.size() && t[i] == ',') ++i;
  }
  return out;
}

namespace {

// Connects with `url`'s parameters, after defaults it may override: a server
// that does not answer fails the attempt after 5 s instead of libpq's
// unbounded wait; keepalives notice a peer that vanished while the
// connection is quiet (30 s, then 3 probes 5 s apart), and a request the
// peer has not acknowledged after 30 s fails the connection
// (tcp_user_timeout), so requests get 503 instead of hanging on a
// PostgreSQL host that is gone. (A PostgreSQL process that is frozen on a
// live host is not noticed: its kernel answers for it.)
pg_conn* connect_to(const std::string& url) {
  const char* const keys[] = {"connect_timeout",
                              "keepalives_idle",
                              "keepalives_interval",
                              "keepalives_count",
                              "tcp_user_timeout",
                              "dbname",
                              nullptr};
  const char* const values[] = {"5", "30", "5", "3", "30000", url.c_str(), nullptr};
  return PQconnectdbParams(keys, values, 1);
}

}  // namespace

PgConnection::PgConnection(const std::string& url, std::chrono::milliseconds answer_timeout)
    : conn_(connect_to(url)), answer_timeout_(answer_timeout) {
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    PQfinish(conn_);
    conn_ = nullptr;
    throw PgError("", "cannot connect to PostgreSQL: " + message);
  }
  // Notices ("schema errand already exists, skipping") are not errors, and
  // libpq would print them on stderr.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
}

PgConnection::~PgConnection() {
  if (conn_) PQfinish(conn_);
}

bool PgConnection::ok() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

bool PgConnection::alive() {
  if (!ok()) return false;
  if (!sent_.empty()) return true;  // answers to read: none are lost here
  // The server's last words, then the end of the stream: the status goes
  // bad. (A few reads at most: the server sends nothing else unasked.)
  for (int reads = 0; reads < 4 && ok(); ++reads) {
    pollfd fd{PQsocket(conn_), POLLIN, 0};
    if (::poll(&fd, 1, 0) <= 0 || PQconsumeInput(conn_) != 1) break;
  }
  return ok();
}

PgError PgConnection::error_of(const PgResult& r, const std::string& what) const {
  const char* state = r.raw() ? PQresultErrorField(r.raw(), PG_DIAG_SQLSTATE) : nullptr;
  const char* constraint = r.raw() ? PQresultErrorField(r.raw(), PG_DIAG_CONSTRAINT_NAME) : nullptr;
  std::string message = r.raw() ? PQresultErrorMessage(r.raw()) : "";
  if (message.empty() && conn_) message = PQerrorMessage(conn_);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return PgError(state ? state : "", what + ": " + message, constraint ? constraint : "");
}

PgError PgConnection::broken(const std::string& what) const {
  std::string message = conn_ ? PQerrorMessage(conn_) : "";
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return PgError("", what + (message.empty() ? "" : ": " + message));
}

namespace {

struct ParamPointers {
  explicit ParamPointers(const PgParams& p) {
    for (const auto& v : p.values()) values.push_back(v ? v->c_str() : nullptr);
  }
  std::vector<const char*> values;
};

// What a failure names: built only when a statement failed.
std::string describe(const char* name, bool preparing) {
  if (!name) return "statement failed";
  return preparing ? std::string("preparing ") + name : std::string(name) + " failed";
}

}  // namespace

bool PgConnection::succeeded(const PgResult& r) {
  const auto status = r.raw() ? PQresultStatus(r.raw()) : PGRES_FATAL_ERROR;
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

PgConnection::Deadline PgConnection::answer_deadline() const {
  return answer_timeout_.count() > 0 ? std::chrono::steady_clock::now() + answer_timeout_
                                     : Deadline::max();
}

PgResult PgConnection::next_result(Deadline deadline, const Sent& sent) {
  while (PQisBusy(conn_)) {
    int wait_ms = -1;
    if (deadline != Deadline::max()) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
              .count();
      wait_ms = static_cast<int>(std::max<std::int64_t>(left, 0));
    }
    pollfd fd{PQsocket(conn_), POLLIN, 0};
    const int ready = ::poll(&fd, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      // Given up: a late answer would be read as the next statement's.
      PQfinish(conn_);
      conn_ = nullptr;
      sent_.clear();
      throw PgError("", describe(sent.name, sent.preparing) +
                            ": PostgreSQL did not answer within " +
                            std::to_string(answer_timeout_.count()) + " ms");
    }
    if (PQconsumeInput(conn_) != 1) break;  // lost: PQgetResult says so
  }
  return PgResult(PQgetResult(conn_));
}

PgResult PgConnection::answer_of(Deadline deadline, const Sent& sent) {
  PgResult kept;
  for (;;) {
    PgResult r = next_result(deadline, sent);
    if (!r.raw()) return kept;
    if (!kept.raw() || succeeded(kept)) kept = std::move(r);  // the first error is the answer
  }
}

void PgConnection::enter_pipeline() {
  if (!conn_) throw broken("the connection was given up");
  if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn_) != 1) {
    throw broken("entering pipeline mode");
  }
}

void PgConnection::send_prepare(const char* name, const char* sql) {
  if (std::find(prepared_.begin(), prepared_.end(), name) != prepared_.end()) return;
  if (PQsendPrepare(conn_, name, sql, 0, nullptr) != 1) throw broken(describe(name, true));
  prepared_.emplace_back(name);
  sent_.push_back(Sent{name, true});
}

void PgConnection::send_prepared(const char* name, const PgParams& params, PgResult* answer) {
  ParamPointers p(params);
  if (PQsendQueryPrepared(conn_, name, static_cast<int>(p.values.size()), p.values.data(), nullptr,
                          nullptr, 0) != 1) {
    throw broken(describe(name, false));
  }
  sent_.push_back(Sent{name, false, answer});
}

void PgConnection::send_unprepared(const std::string& sql, const PgParams& params) {
  ParamPointers p(params);
  if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(p.values.size()), nullptr,
                        p.values.data(), nullptr, nullptr, 0) != 1) {
    throw broken(describe(nullptr, false));
  }
  sent_.push_back(Sent{nullptr, false});
}

PgResult PgConnection::sync() {
  if (PQpipelineSync(conn_) != 1) {
    sent_.clear();
    throw broken("sending to PostgreSQL");
  }
  const auto deadline = answer_deadline();
  std::optional<PgError> failed;
  PgResult last;
  for (const Sent& s : sent_) {
    PgResult r = answer_of(deadline, s);
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      // Lost, whatever failed before: connection_lost() drops it.
      sent_.clear();
      throw broken(describe(s.name, s.preparing));
    }
    if (!succeeded(r)) {
      if (s.preparing) std::erase(prepared_, s.name);
      // Those after a failure were skipped (PGRES_PIPELINE_ABORTED).
      if (!failed) failed = error_of(r, describe(s.name, s.preparing));
    } else if (s.answer) {
      *s.answer = r;
    }
    last = std::move(r);
  }
  const PgResult end = next_result(deadline, Sent{"the pipeline's end", false});
  if (!end.raw() || PQresultStatus(end.raw()) != PGRES_PIPELINE_SYNC ||
      PQexitPipelineMode(conn_) != 1) {
    // Out of step with the server: given up, as after a timeout.
    const PgError lost = broken("ending the pipeline");
    PQfinish(conn_);
    conn_ = nullptr;
    sent_.clear();
    throw lost;
  }
  sent_.clear();
  if (failed) throw *failed;
  return last;
}

// Without parameters and alone, a statement goes as PQexec sends it (it
// may hold several, as a migration does); otherwise through the pipeline,
// ending it. libpq's PQsend* calls return 0 for a connection given up
// (null), which broken() reports.
PgResult PgConnection::exec(const std::string& sql, const PgParams& params) {
  if (!sent_.empty() || params.size() > 0) {
    enter_pipeline();
    send_unprepared(sql, params);
    return sync();
  }
  if (!conn_) throw broken("statement failed: the connection was given up");
  const Sent sent{nullptr, false};
  if (PQsendQuery(conn_, sql.c_str()) != 1) throw broken(describe(nullptr, false));
  PgResult r = answer_of(answer_deadline(), sent);
  if (!succeeded(r)) throw error_of(r, describe(nullptr, false));
  return r;
}

PgResult PgConnection::run(const char* name, const char* sql, const PgParams& params) {
  enter_pipeline();
  send_prepare(name, sql);
  send_prepared(name, params);
  return sync();
}

void PgConnection::defer(const char* name, const char* sql, const PgParams& params,
                         PgResult* answer) {
  enter_pipeline();
  send_prepare(name, sql);
  send_prepared(name, params, answer);
}

void PgConnection::defer_exec(const std::string& sql, const PgParams& params) {
  enter_pipeline();
  send_unprepared(sql, params);
}

bool PgConnection::in_transaction() const {
  if (!conn_) return false;
  const auto status = PQtransactionStatus(conn_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

int PgConnection::socket() const { return PQsocket(conn_); }

bool PgConnection::consume_input() { return PQconsumeInput(conn_) == 1 && ok(); }

std::optional<PgNotification> PgConnection::next_notification() {
  PGnotify* n = PQnotifies(conn_);
  if (!n) return std::nullopt;
  PgNotification out{n->relname, n->extra};
  PQfreemem(n);
  return out;
}

PgTransaction::~PgTransaction() {
  // Twice at most: a ROLLBACK that ended a pipeline with a failure in it
  // was skipped, and the failed transaction is still open.
  for (int tries = 0; tries < 2 && !done_ && c_.ok(); ++tries) {
    try {
      c_.exec("ROLLBACK");
    } catch (const PgError&) {
      // The connection broke (the server rolls back what it had), or a
      // deferred statement failed before the ROLLBACK.
    }
    done_ = !c_.in_transaction();
  }
}

}  // namespace errand::postgres
