// The PostgreSQL Broker's flows (SPEC §3 Flows). engine/flow_driver.hpp
// holds the rules, the same as the embedded store's; this file keeps each
// flow's record in its row of errand.flows and moves it in the transaction
// of the job change that caused it: commit_on() calls advance_flows() for
// every transaction in which a job of a flow ended, so "step A succeeded"
// and "step B was created" commit together or not at all, on whichever
// server the worker acked.
//
// Locks. A change of a step job locks the job's row, then its flow's row
// (advance_flows, flows in id order); a flow cancel locks the flow's
// unfinished step jobs, then the flow. Taking jobs before flows keeps most
// pairs of transactions from waiting on each other in a cycle. The cycles
// left need a flow that cancels a step job (under the flow's lock) that
// another transaction holds at that moment and that then wants the flow: a
// step that started after a cancel read the flow, acked just then, or a
// sibling step changed just as a failing step cancels it. PostgreSQL
// detects them (after its deadlock_timeout), and the transaction is tried
// again (run_transaction).
#include <algorithm>
#include <map>
#include <set>

#include "logging/log.hpp"
#include "store/postgres/broker_impl.hpp"
#include "store/postgres/job_rows.hpp"
#include "store/postgres/newest_first.hpp"

namespace errand::postgres::detail {
namespace {

// Finished flows are deleted this many at a time, each batch its own transaction.
constexpr int kFlowPurgeBatch = 100;

PgParams id_param(const JobId& id) { return PgParams().text(id.to_string()); }

std::vector<std::string> id_texts(const std::vector<JobId>& ids) {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const JobId& id : ids) out.push_back(id.to_string());
  return out;
}

// The record of a flow row, or nullopt (logged) when it does not decode:
// written by a newer errand, or damaged.
std::optional<FlowRecord> decode_row(const PgResult& rows, int row, int col) {
  auto f = decode_flow(rows.text(row, col));
  if (!f) log::error("unreadable flow record; was it written by a newer errand?");
  return f;
}

Status unreadable(const JobId& id) {
  return Status(Code::kInternal, "unreadable record of flow " + id.to_string());
}

// The jobs of a flow: its steps' and its compensations'.
std::vector<JobId> jobs_of(const FlowRecord& f) {
  std::vector<JobId> ids;
  for (const FlowStepRecord& s : f.steps) {
    if (s.job) ids.push_back(*s.job);
    if (s.compensation_job) ids.push_back(*s.compensation_job);
  }
  return ids;
}

std::string read_result(PgConnection& c, const JobId& id) {
  const auto rows =
      c.run("flow_job_result", "SELECT result FROM errand.jobs WHERE id = $1", id_param(id));
  if (rows.rows() == 0 || rows.is_null(0, 0)) return {};
  return std::string(rows.text(0, 0));
}

// The flow `id`'s record, locked FOR UPDATE with `lock`; nullopt when there
// is no such flow. An unreadable record is an error.
Result<std::optional<FlowRecord>> read_flow(PgConnection& c, const JobId& id, bool lock) {
  const auto rows =
      lock ? c.run("lock_flow", "SELECT record FROM errand.flows WHERE id = $1 FOR UPDATE",
                   id_param(id))
           : c.run("read_flow", "SELECT record FROM errand.flows WHERE id = $1", id_param(id));
  if (rows.rows() == 0) return std::optional<FlowRecord>();
  auto f = decode_row(rows, 0, 0);
  if (!f) return unreadable(id);
  return f;
}

void insert_flow_row(PgConnection& c, const FlowRecord& f, bool* inserted) {
  const auto rows =
      c.run("insert_flow",
            "INSERT INTO errand.flows (id, name, state, created_at, finished_at, idempotency_key, "
            "record) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING",
            PgParams()
                .text(f.id.to_string())
                .text(f.name)
                .text(to_string(f.status.state))
                .integer(f.created_at)
                .optional_integer(f.finished_at)
                .text_or_null(f.idempotency_key)
                .text(encode_flow(f)));
  *inserted = rows.affected() == 1;
}

void update_flow_row(PgConnection& c, const FlowRecord& f) {
  c.run("update_flow",
        "UPDATE errand.flows SET state = $2, finished_at = $3, record = $4 WHERE id = $1",
        PgParams()
            .text(f.id.to_string())
            .text(to_string(f.status.state))
            .optional_integer(f.finished_at)
            .text(encode_flow(f)));
}

}  // namespace

// ---- The flow rules' view of a transaction -----------------------------------

class PostgresBroker::FlowTx final : public FlowHost {
 public:
  FlowTx(PostgresBroker& broker, PgConnection& c, PgChange& change)
      : b_(broker), c_(c), change_(change) {}

  // A job made as a submit makes it (flow steps pass max_queued, as on the
  // embedded store: the flow was admitted as a whole).
  JobId create_job(SubmitSpec spec, Millis now) override {
    JobId id;
    {
      std::lock_guard lock(b_.ids_mutex_);
      id = b_.ids_.next(now);
    }
    const JobRecord r = new_job(spec, id, now, change_);
    c_.run("flow_add_queue", "INSERT INTO errand.queues (name) VALUES ($1) ON CONFLICT DO NOTHING",
           PgParams().text(r.queue));
    c_.run("flow_insert_job", kInsertJobSql, insert_job_params(r, spec.payload_json));
    return id;
  }
  std::optional<JobRecord> find_job(const JobId& id) override {
    static const std::string sql =
        std::string("SELECT ") + kJobColumns + " FROM errand.jobs WHERE id = $1";
    const auto rows = c_.run("flow_find_job", sql.c_str(), id_param(id));
    if (rows.rows() == 0) return std::nullopt;
    return read_job_row(rows, 0);
  }
  bool cancel_job(const JobId& id, Millis now) override {
    auto r = b_.lock_job(c_, id);
    if (!r || is_terminal(r->state)) return false;
    // A queued job ends now: its end is in change_.flow_step_ends().
    errand::cancel_job(*r, now, change_);
    b_.save_job(c_, *r);
    return true;
  }
  std::string result_of(const JobId& id) override { return read_result(c_, id); }
  void flow_event(FlowRecord& f, Millis at, std::string_view type,
                  std::string_view fields) override {
    change_.flow_event(f, at, type, fields);
  }

 private:
  PostgresBroker& b_;
  PgConnection& c_;
  PgChange& change_;
};

void PgChange::flow_event(FlowRecord& f, Millis at, std::string_view type,
                          std::string_view fields) {
  TimelineEvent ev = next_event(f.timeline_seq, at, type, fields);
  events_.push_back({f.id, ev.seq, std::move(ev.json)});
  touched_flow(f.id);
}

// ---- Advancing on job changes -------------------------------------------------

void PostgresBroker::advance_flows(PgConnection& c, PgChange& change) {
  const Millis now = now_millis();
  FlowTx host(*this, c, change);
  std::map<JobId, FlowRecord> flows;  // locked by this transaction, as changed so far
  std::set<JobId> looked_up, changed;
  const std::vector<JobRecord>& ends = change.flow_step_ends();
  // Advancing may end more jobs (a queued step the flow cancels): their ends
  // are read too, in later rounds.
  for (std::size_t k = 0; k < ends.size();) {
    std::vector<std::string> lock;
    for (std::size_t i = k; i < ends.size(); ++i) {
      if (looked_up.insert(ends[i].flow->id).second) lock.push_back(ends[i].flow->id.to_string());
    }
    if (!lock.empty()) {
      const auto rows = c.exec(
          "SELECT id, record FROM errand.flows WHERE id = ANY($1::uuid[]) "
          "ORDER BY id FOR UPDATE",
          PgParams().text_array(lock));
      for (int i = 0; i < rows.rows(); ++i) {
        if (auto f = decode_row(rows, i, 1)) flows.emplace(f->id, std::move(*f));
      }
    }
    for (const std::size_t n = ends.size(); k < n; ++k) {
      const JobRecord job = ends[k];  // a copy: advancing adds to `ends`
      const auto it = flows.find(job.flow->id);
      if (it == flows.end()) continue;  // gone (purged), or unreadable
      if (advance_flow(it->second, job, job.state, host, now)) changed.insert(it->first);
    }
  }
  for (const JobId& id : changed) {
    update_flow_row(c, flows.at(id));
    change.touched_flow(id);
  }
}

// ---- Reads ---------------------------------------------------------------------

FlowView PostgresBroker::read_flow_view(PgConnection& c, const FlowRecord& f) {
  return std::move(read_flow_views(c, {&f}).front());
}

std::vector<FlowView> PostgresBroker::read_flow_views(PgConnection& c,
                                                      const std::vector<const FlowRecord*>& flows) {
  static const std::string sql =
      std::string("SELECT ") + kJobColumns + ", result FROM errand.jobs WHERE id = ANY($1::uuid[])";
  std::vector<JobId> ids;  // the jobs of them all: one query
  for (const FlowRecord* f : flows) {
    const auto mine = jobs_of(*f);
    ids.insert(ids.end(), mine.begin(), mine.end());
  }
  const auto rows = c.exec(sql, PgParams().text_array(id_texts(ids)));
  std::map<JobId, std::pair<JobRecord, std::string>> jobs;
  for (int i = 0; i < rows.rows(); ++i) {
    JobRecord r = read_job_row(rows, i);
    std::string result;
    if (!rows.is_null(i, kJobColumnCount)) result = std::string(rows.text(i, kJobColumnCount));
    const JobId id = r.id;
    jobs.emplace(id, std::make_pair(std::move(r), std::move(result)));
  }
  std::vector<FlowView> views;
  for (const FlowRecord* f : flows) {
    FlowView v = flow_view(*f, [&jobs](const JobId& id) -> const JobRecord* {
      const auto it = jobs.find(id);
      return it == jobs.end() ? nullptr : &it->second.first;
    });
    add_flow_results(v, [&jobs](const JobId& id) {
      const auto it = jobs.find(id);
      return it == jobs.end() ? std::string() : it->second.second;
    });
    views.push_back(std::move(v));
  }
  return views;
}

void PostgresBroker::add_flow_inputs(PgConnection& c, std::vector<JobView>& leased) {
  std::map<JobId, std::optional<FlowRecord>> flows;
  for (JobView& v : leased) {
    if (!v.record.flow) continue;
    auto [it, fresh] = flows.try_emplace(v.record.flow->id);
    if (fresh) {
      const auto rows = c.run("read_flow", "SELECT record FROM errand.flows WHERE id = $1",
                              id_param(v.record.flow->id));
      if (rows.rows() > 0) it->second = decode_row(rows, 0, 0);
    }
    auto inputs = flow_inputs_of(it->second ? &*it->second : nullptr, v.record);
    read_flow_inputs(*inputs, [&c](const JobId& id) { return read_result(c, id); });
    v.flow = std::move(inputs->flow);
  }
}

// ---- Broker calls ----------------------------------------------------------------

void PostgresBroker::submit_flow(FlowSpec spec, Callback<FlowSubmitOutcome> done) {
  auto shared = std::make_shared<const FlowSpec>(std::move(spec));
  // A flow is made when it was asked for, not when a connection was free.
  const Millis now = now_millis();
  transact<FlowSubmitOutcome>(
      std::move(done),
      [this, shared, now](PgConnection& c, PgChange& change) -> Result<FlowSubmitOutcome> {
        if (!shared->idempotency_key.empty()) {
          const auto rows =
              c.run("flow_by_key", "SELECT id, record FROM errand.flows WHERE idempotency_key = $1",
                    PgParams().text(shared->idempotency_key));
          if (rows.rows() > 0) {
            auto existing = decode_row(rows, 0, 1);
            if (!existing) return unreadable(JobId::parse(rows.text(0, 0)).value_or(JobId{}));
            if (Status used = check_flow_replay(*existing, flow_content_hash(*shared));
                !used.is_ok()) {
              return used;
            }
            return FlowSubmitOutcome{read_flow_view(c, *existing), true};
          }
        }
        JobId id;
        {
          std::lock_guard lock(ids_mutex_);
          id = ids_.next(now);
        }
        FlowRecord f = new_flow(*shared, id, now);  // a copy: a retry starts again
        FlowTx host(*this, c, change);
        start_flow(f, host, now);
        bool inserted = false;
        insert_flow_row(c, f, &inserted);
        if (!inserted) {
          // Another submit took the key since we looked: again, to replay it.
          throw PgError("40001", "a flow's idempotency key was taken meanwhile");
        }
        change.touched_flow(f.id);
        return FlowSubmitOutcome{read_flow_view(c, f), false};
      });
}

void PostgresBroker::get_flow(JobId id, Callback<FlowView> done) {
  read<FlowView>(std::move(done), [this, id](PgConnection& c) -> Result<FlowView> {
    auto f = read_flow(c, id, false);
    if (!f) return f.status();
    if (!f.value()) return flow_not_found(id);
    return read_flow_view(c, *f.value());
  });
}

void PostgresBroker::cancel_flow(JobId id, Callback<FlowView> done) {
  const Millis now = now_millis();
  transact<Empty>(
      [this, id, done = std::move(done)](Result<Empty> cancelled) {
        if (!cancelled) return done(cancelled.status());
        // After the commit: the flow as the jobs' ends moved it on (advance_flows).
        get_flow(id, done);
      },
      [this, id, now](PgConnection& c, PgChange& change) -> Result<Empty> {
        auto seen = read_flow(c, id, false);
        if (!seen) return seen.status();
        if (!seen.value()) return flow_not_found(id);
        if (Status refused = check_flow_cancel(*seen.value()); !refused.is_ok()) return refused;
        // Jobs before flows (the comment at the top): the step jobs it may cancel.
        std::vector<JobId> unfinished;
        for (std::size_t i = 0; i < seen.value()->steps.size(); ++i) {
          const auto& s = seen.value()->steps[i];
          if (s.job && seen.value()->status.steps[i].phase == StepPhase::kActive) {
            unfinished.push_back(*s.job);
          }
        }
        if (!unfinished.empty()) {
          c.exec("SELECT id FROM errand.jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
                 PgParams().text_array(id_texts(unfinished)));
        }
        auto locked = read_flow(c, id, true);
        if (!locked) return locked.status();
        if (!locked.value()) return flow_not_found(id);
        FlowRecord& f = *locked.value();
        if (Status refused = check_flow_cancel(f); !refused.is_ok()) return refused;
        FlowTx host(*this, c, change);
        request_flow_cancel(f, host, now);
        update_flow_row(c, f);
        change.touched_flow(id);
        return Empty{};
      });
}

void PostgresBroker::list_flows(FlowListSpec spec, Callback<FlowPage> done) {
  read<FlowPage>(std::move(done), [this, spec](PgConnection& c) -> Result<FlowPage> {
    NewestFirstQuery query("SELECT id, record FROM errand.flows");
    if (spec.state) query.equals("state", to_string(*spec.state));
    const auto rows = query.run(c, spec.before, spec.limit);
    std::vector<FlowRecord> records;
    for (int i = 0; i < std::min(rows.rows(), spec.limit); ++i) {
      auto f = decode_row(rows, i, 1);
      if (!f) return unreadable(JobId::parse(rows.text(i, 0)).value_or(JobId{}));
      records.push_back(std::move(*f));
    }
    std::vector<const FlowRecord*> listed;
    for (const auto& f : records) listed.push_back(&f);
    FlowPage page;
    page.flows = read_flow_views(c, listed);
    if (rows.rows() > spec.limit && !page.flows.empty()) page.next = page.flows.back().id;
    return page;
  });
}

void PostgresBroker::flow_timeline(JobId id, std::uint32_t after_seq,
                                   Callback<std::vector<TimelineEvent>> done) {
  read<std::vector<TimelineEvent>>(
      std::move(done),
      [this, id, after_seq](PgConnection& c) -> Result<std::vector<TimelineEvent>> {
        const auto found =
            c.run("flow_exists", "SELECT 1 FROM errand.flows WHERE id = $1", id_param(id));
        if (found.rows() == 0) return flow_not_found(id);
        return read_timeline(c, id, after_seq);
      });
}

// ---- Retention --------------------------------------------------------------------

std::optional<Millis> PostgresBroker::purge_flows(PgConnection& c, Millis now) {
  const Millis due = now - options_.retention_ms;
  for (;;) {
    int taken = 0;
    const Body<Empty> body = [&](PgConnection& tc, PgChange& change) -> Result<Empty> {
      // SKIP LOCKED: each flow is purged once, by whichever server takes it.
      const auto rows =
          tc.run("due_flow_purges",
                 "DELETE FROM errand.flows WHERE id IN (SELECT id FROM errand.flows "
                 "WHERE finished_at <= $1 ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
                 "RETURNING id",
                 PgParams().integer(due).integer(kFlowPurgeBatch));
      taken = rows.rows();
      if (taken == 0) return Empty{};
      std::vector<std::string> ids;
      for (int i = 0; i < rows.rows(); ++i) {
        ids.emplace_back(rows.text(i, 0));
        if (const auto id = JobId::parse(rows.text(i, 0))) change.touched_flow(*id);
      }
      tc.exec("DELETE FROM errand.timeline WHERE owner = ANY($1::uuid[])",
              PgParams().text_array(ids));
      return Empty{};
    };
    if (auto done = commit_on(c, body); !done) return std::nullopt;
    if (taken < kFlowPurgeBatch) break;
  }
  const auto next = c.run("next_flow_purge",
                          "SELECT min(finished_at) + $1 FROM errand.flows "
                          "WHERE finished_at IS NOT NULL",
                          PgParams().integer(options_.retention_ms));
  return next.optional_integer(0, 0);
}

}  // namespace errand::postgres::detail
