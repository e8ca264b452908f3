#include "store/postgres/postgres_broker.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <set>
#include <tuple>

#include "core/time.hpp"
#include "store/postgres/broker_impl.hpp"
#include "store/postgres/job_rows.hpp"
#include "store/postgres/newest_first.hpp"
#include "store/postgres/schema.hpp"

namespace errand::postgres {
namespace detail {

namespace {

// waiting_on's `ahead` counts up to this many jobs ("at least 100" beyond):
// PostgreSQL counts by reading each entry, and a submit explains its job.
constexpr int kMaxAhead = 100;

std::string random_instance_id() {
  std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (std::uint64_t r = rng(), i = 0; i < 12; ++i, r >>= 4) id.push_back(kHex[r & 0xf]);
  return id;
}

PgParams id_param(const JobId& id) { return PgParams().text(id.to_string()); }

// Whether two payloads are the same JSON, however spelled: an application's
// errand.enqueue() stores jsonb's spelling ({"a": 1}), the API its client's.
bool same_json(std::string_view a, std::string_view b) {
  if (a == b) return true;
  boost::system::error_code ea, eb;
  const auto va = boost::json::parse(a, ea);
  const auto vb = boost::json::parse(b, eb);
  return !ea && !eb && va == vb;
}

}  // namespace

// ---- PgChange ---------------------------------------------------------------

void PgChange::event(JobRecord& r, Millis at, std::string_view type, std::string_view fields) {
  TimelineEvent ev = next_event(r, at, type, fields);
  events_.push_back({r.id, ev.seq, std::move(ev.json)});
  touched(r.id);
}

void PgChange::moved(const JobRecord& r, std::optional<JobState> from, Millis at) {
  changes_.push_back(state_change(r, from, r.state, at));
  if (r.flow && from && !is_terminal(*from) && is_terminal(r.state)) flow_step_ends_.push_back(r);
  std::optional<Millis> timer;
  if (r.state == JobState::kScheduled) timer = r.run_at;
  if (r.state == JobState::kRunning) timer = r.lease_expires_at;
  if ((r.state == JobState::kScheduled || r.state == JobState::kQueued) && r.deadline) {
    timer = timer ? std::min(*timer, *r.deadline) : *r.deadline;
  }
  if (timer && (!earliest_timer_ || *timer < *earliest_timer_)) earliest_timer_ = timer;
}

namespace {

// NOTIFY's payload is under 8000 bytes: 35 entries of at most 200 bytes.
constexpr std::size_t kEntriesPerNotification = 35;

void add_notifications(std::vector<std::string>& notes, const std::string& head,
                       const std::vector<std::string>& entries) {
  for (std::size_t i = 0; i < entries.size(); i += kEntriesPerNotification) {
    std::string note = head;
    for (std::size_t k = i; k < std::min(entries.size(), i + kEntriesPerNotification); ++k) {
      if (k > i) note += ',';
      note += entries[k];
    }
    notes.push_back(std::move(note));
  }
}

}  // namespace

void PgChange::write(PgConnection& c, const std::string& instance) const {
  // Queue counts as deltas (schema.cpp, errand.queue_counts).
  std::map<std::pair<std::string, std::string>, std::int64_t> deltas;
  std::vector<std::string> state_changes;
  std::set<JobId> moved_jobs;
  for (const auto& ch : changes_) {
    if (ch.from == ch.to) continue;
    moved_jobs.insert(ch.id);
    if (ch.from) --deltas[{ch.queue, std::string(to_string(*ch.from))}];
    if (ch.to) ++deltas[{ch.queue, std::string(to_string(*ch.to))}];
    if (!ch.from) ++deltas[{ch.queue, "enqueued_total"}];
    if (ch.to && (*ch.to == JobState::kSucceeded || *ch.to == JobState::kFailed)) {
      ++deltas[{ch.queue, std::string(to_string(*ch.to)) + "_total"}];
    }
    state_changes.push_back(ch.id.to_string() + ' ' + ch.queue + ' ' +
                            (ch.from ? std::string(to_string(*ch.from)) : "-") + ' ' +
                            (ch.to ? std::string(to_string(*ch.to)) : "-") + ' ' +
                            std::to_string(ch.at));
  }
  std::vector<std::string> queues, kinds, counts;
  for (const auto& [key, n] : deltas) {
    if (n == 0) continue;
    queues.push_back(key.first);
    kinds.push_back(key.second);
    counts.push_back(std::to_string(n));
  }
  // What other servers hear: state changes with their details, other
  // changes by job id, and the queues where jobs became ready.
  std::vector<std::string> notes, others;
  add_notifications(notes, instance + "|c|", state_changes);
  std::set<JobId> seen;
  for (const auto& id : touched_jobs_) {
    if (!moved_jobs.contains(id) && seen.insert(id).second) others.push_back(id.to_string());
  }
  add_notifications(notes, instance + "|j|", others);
  std::set<std::string_view> ready;
  for (const auto& [queue, n] : ready_) {
    if (ready.insert(queue).second) notes.push_back(instance + "|q|" + queue);
  }
  if (events_.empty() && queues.empty() && notes.empty()) return;
  std::vector<std::string> owners, seqs, events;
  for (const auto& e : events_) {
    owners.push_back(e.owner.to_string());
    seqs.push_back(std::to_string(e.seq));
    events.push_back(e.json);
  }
  c.defer("write_change",
          "WITH events AS (INSERT INTO errand.timeline (owner, seq, event) "
          "SELECT * FROM unnest($1::uuid[], $2::integer[], $3::text[])), "
          "counts AS (INSERT INTO errand.queue_counts (queue, kind, n) "
          "SELECT * FROM unnest($4::text[], $5::text[], $6::bigint[])) "
          "SELECT pg_notify('errand', note) FROM unnest($7::text[]) AS note",
          PgParams()
              .text_array(owners)
              .text_array(seqs)
              .text_array(events)
              .text_array(queues)
              .text_array(kinds)
              .text_array(counts)
              .text_array(notes));
  for (const auto& e : events_) {
    if (e.seq <= kTimelineLimit) continue;
    c.defer("trim_timeline", "DELETE FROM errand.timeline WHERE owner = $1 AND seq <= $2",
            PgParams().text(e.owner.to_string()).integer(e.seq - kTimelineLimit));
  }
}

void PgChange::publish(WaiterRegistry& waiters, UnfinishedJobs& unfinished, EndedJobs& ended,
                       const ChangeFeed& feed, const ChangeFeed& cluster) const {
  for (const auto& c : changes_) {
    if (!c.to || is_terminal(*c.to)) unfinished.drop(c.id);
  }
  // What ended.get() has of the jobs this change touched: its own views of
  // them, or nothing.
  for (const auto& id : touched_jobs_) {
    const bool put = std::any_of(ended_puts_.begin(), ended_puts_.end(),
                                 [&id](const auto& p) { return p.first == id; });
    if (!put) ended.forget(id);
  }
  for (const auto& [id, token] : ended_puts_) ended.show(id, token);
  feed.publish(changes_);
  cluster.publish(changes_);
  for (const auto& id : touched_jobs_) waiters.notify_all(job_topic(id));
  for (const auto& id : touched_flows_) waiters.notify_all(flow_topic(id));
  for (const auto& [q, n] : ready_) waiters.notify_some(queue_topic(q), n);
}

// ---- Transactions -----------------------------------------------------------

PostgresBroker::PostgresBroker(const PostgresOptions& options)
    : options_(options),
      instance_(random_instance_id()),
      setup_{options.url, instance_, std::chrono::milliseconds(options.answer_timeout_ms)},
      pool_(setup_, options.pool_size),
      activity_(now_millis()),
      rng_(std::random_device{}()) {}

void PostgresBroker::start() {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  listener_ = std::thread([this] { listen_loop(); });
  sweeper_ = std::thread([this] { sweep_loop(); });
}

Status PostgresBroker::failure(const PgError& e) {
  if (e.connection_lost()) {
    healthy_ = false;
    return unavailable(std::string("PostgreSQL is unavailable: ") + e.what());
  }
  return Status(Code::kInternal, std::string("PostgreSQL refused a statement: ") + e.what());
}

template <typename T>
void PostgresBroker::transact(Callback<T> done, Body<T> body) {
  if (stopping_) return done(unavailable("the store is shut down"));
  pool_.post([this, done = std::move(done), body = std::move(body)](PgSession& session) {
    done(run_transaction<T>(session, body));
  });
}

template <typename T>
void PostgresBroker::read(Callback<T> done, std::function<Result<T>(PgConnection&)> body) {
  // Reads go on after shutdown(), as on the embedded store; the pool stops
  // with the broker.
  pool_.post([this, done = std::move(done), body = std::move(body)](PgSession& session) {
    try {
      Result<T> out = body(session.connection());
      healthy_ = true;
      done(std::move(out));
    } catch (const PgError& e) {
      if (e.connection_lost()) session.drop();
      done(failure(e));
    }
  });
}

std::string PostgresBroker::new_lease_token() {
  std::lock_guard lock(ids_mutex_);
  return lease_token(rng_);
}

double PostgresBroker::unit_random() {
  std::lock_guard lock(ids_mutex_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

// ---- Rows -------------------------------------------------------------------

std::optional<JobRecord> PostgresBroker::lock_job(PgConnection& c, const JobId& id) {
  static const std::string sql =
      std::string("SELECT ") + kJobColumns + " FROM errand.jobs WHERE id = $1 FOR UPDATE";
  const auto rows = c.run("lock_job", sql.c_str(), id_param(id));
  if (rows.rows() == 0) return std::nullopt;
  return read_job_row(rows, 0);
}

void PostgresBroker::remove_job(PgConnection& c, const JobRecord& r, Millis now, PgChange& change) {
  change.removed(r, now);
  leased_.forget(r.id);
  c.defer("delete_job", "DELETE FROM errand.jobs WHERE id = $1", id_param(r.id));
  c.defer("delete_timeline", "DELETE FROM errand.timeline WHERE owner = $1", id_param(r.id));
}

void PostgresBroker::save_job(PgConnection& c, const JobRecord& r, const std::string* result) {
  leased_.forget(r.id);  // a new version of the row (leased_rows.hpp)
  if (!result) {
    c.defer("update_job", kUpdateJobSql, update_job_params(r));
    return;
  }
  c.defer("update_job_result", kUpdateJobWithResultSql, update_job_params(r).text(*result));
}

void PostgresBroker::save_jobs(PgConnection& c, const std::vector<const JobRecord*>& jobs,
                               const std::vector<const std::string*>* results) {
  if (jobs.size() == 1) return save_job(c, *jobs[0], results ? (*results)[0] : nullptr);
  if (jobs.empty()) return;
  std::vector<PgParams> rows;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    leased_.forget(jobs[i]->id);
    rows.push_back(update_job_params(*jobs[i]));
    if (results) rows.back().text(*(*results)[i]);
  }
  // Unprepared, so planned for these ids (PgConnection::exec).
  c.defer_exec(results ? kUpdateJobsWithResultSql : kUpdateJobsSql, PgParams::columns(rows));
}

Result<JobRecord> PostgresBroker::leased_job(PgConnection& c, const JobId& id,
                                             const std::string& token,
                                             std::optional<LeasedRows::Row>& known) {
  known = leased_.take(id, token);
  if (known) return known->record;
  auto r = lock_job(c, id);
  if (!r) return job_not_found(id);
  if (r->state != JobState::kRunning || r->lease_token != token) return lease_lost(id);
  return std::move(*r);
}

void PostgresBroker::save_leased(PgConnection& c, const JobRecord& r,
                                 std::optional<LeasedRows::Row>& known, PgChange& change) {
  if (!known) return save_job(c, r);
  c.defer("update_job_as_read", kUpdateJobAsReadSql, update_job_params(r).text(known->xmin));
  if (r.state == JobState::kRunning) change.keep_leased(r, known->payload_json);
}

Result<JobView> PostgresBroker::read_job(PgConnection& c, const JobId& id, bool explained) {
  static const std::string sql =
      std::string("SELECT ") + kJobColumns + ", payload, result FROM errand.jobs WHERE id = $1";
  const auto rows = c.run("read_job", sql.c_str(), id_param(id));
  if (rows.rows() == 0) return job_not_found(id);
  JobView v{read_job_row(rows, 0), std::string(rows.text(0, kJobColumnCount)), {}};
  if (v.record.state == JobState::kSucceeded && !rows.is_null(0, kJobColumnCount + 1)) {
    v.result_json = std::string(rows.text(0, kJobColumnCount + 1));
  }
  if (explained) explain(c, v);
  return v;
}

QueueFacts PostgresBroker::explain(PgConnection& c, JobView& v) {
  const JobRecord& r = v.record;
  QueueFacts facts;
  facts.no_worker_after_ms = options_.no_worker_after_ms;
  // A running job is explained by its record alone.
  if (!is_terminal(r.state) && r.state != JobState::kRunning) {
    const auto rows = c.run(
        "queue_facts",
        "SELECT coalesce((SELECT paused FROM errand.queues WHERE name = $1), false), "
        "(SELECT count(*) FROM (SELECT 1 FROM errand.jobs WHERE queue = $1 AND state = 'queued' "
        "AND (priority > $2 OR (priority = $2 AND (run_at, id) < ($3, $4::uuid))) LIMIT $5) a), "
        "EXISTS (SELECT 1 FROM errand.jobs WHERE queue = $1 AND state = 'running'), "
        "(SELECT asked_at FROM errand.worker_activity WHERE queue = $1)",
        PgParams()
            .text(r.queue)
            .integer(r.priority)
            .integer(r.run_at)
            .text(r.id.to_string())
            .integer(kMaxAhead));
    facts.paused = rows.boolean(0, 0);
    facts.ahead = rows.integer(0, 1);
    facts.ahead_at_least = facts.ahead >= kMaxAhead;
    facts.running = rows.boolean(0, 2) ? 1 : 0;  // only "none or some" matters
    activity_.describe(r.queue, facts);
    // Workers that asked other servers (share_activity); a second late at most.
    if (const auto elsewhere = rows.optional_integer(0, 3);
        elsewhere && (!facts.last_lease_request_at || *elsewhere > *facts.last_lease_request_at)) {
      facts.last_lease_request_at = *elsewhere;
    }
  }
  v.waiting_on = explain_wait(r, facts, now_millis());
  return facts;
}

void PostgresBroker::explain_all(PgConnection& c, const std::vector<JobView*>& views) {
  // Queued jobs of one queue and priority, in lease order: each has at
  // least as many jobs ahead as the one before it, so once one has
  // kMaxAhead ahead, all after it do, and need no query of their own.
  std::map<std::pair<std::string_view, int>, std::vector<JobView*>> queued;
  for (JobView* v : views) {
    if (v->record.state != JobState::kQueued) {
      explain(c, *v);
      continue;
    }
    queued[{v->record.queue, v->record.priority}].push_back(v);
  }
  for (auto& [queue, jobs] : queued) {
    std::sort(jobs.begin(), jobs.end(), [](const JobView* a, const JobView* b) {
      return std::tie(a->record.run_at, a->record.id) < std::tie(b->record.run_at, b->record.id);
    });
    std::optional<QueueFacts> full;  // facts with kMaxAhead ahead
    for (JobView* v : jobs) {
      if (full) {
        v->waiting_on = explain_wait(v->record, *full, now_millis());
        continue;
      }
      if (QueueFacts facts = explain(c, *v); facts.ahead_at_least) full = facts;
    }
  }
}

std::vector<TimelineEvent> PostgresBroker::read_timeline(PgConnection& c, const JobId& id,
                                                         std::uint32_t after_seq) {
  const auto rows = c.run("read_timeline",
                          "SELECT seq, event FROM errand.timeline WHERE owner = $1 AND seq > $2 "
                          "ORDER BY seq",
                          id_param(id).integer(after_seq));
  std::vector<TimelineEvent> events;
  for (int i = 0; i < rows.rows(); ++i) {
    events.push_back(
        stored_event(static_cast<std::uint32_t>(rows.integer(i, 0)), std::string(rows.text(i, 1))));
  }
  return events;
}

// ---- Submit -----------------------------------------------------------------

void PostgresBroker::submit(std::vector<SubmitSpec> specs,
                            Callback<std::vector<SubmitOutcome>> done) {
  if (stopping_) return done(unavailable("the store is shut down"));
  if (submits_.add(PendingSubmit{std::move(specs), now_millis(), std::move(done)})) {
    pool_.post([this](PgSession& session) { run_submits(session); });
  }
}

std::vector<PostgresBroker::HandOff> PostgresBroker::reserve_parked(
    const std::vector<std::string>& queues, std::size_t most) {
  std::vector<HandOff> reserved;
  std::lock_guard lock(parked_mutex_);
  for (auto& p : parked_) {
    if (reserved.size() >= most) break;
    if (p.withdrawn) continue;
    const bool wanted = std::any_of(queues.begin(), queues.end(), [&](const std::string& q) {
      return std::find(p.spec.queues.begin(), p.spec.queues.end(), q) != p.spec.queues.end();
    });
    if (!wanted) continue;
    // Oldest first: one that is claiming goes before any younger one, so
    // none is reserved past it. The jobs stay ready, and the wake-up their
    // commit sends reaches it (wake_parked).
    if (p.claiming) break;
    p.claiming = true;  // claimed() ends it, as for a claim of its own
    p.again = false;
    p.claim_started.reset();  // finding no job here says nothing of the queue
    reserved.push_back(HandOff{p.ticket, p.spec, {}});
  }
  return reserved;
}

void PostgresBroker::run_submits(PgSession& session) {
  for (auto group = submits_.next(); !group.empty(); group = submits_.next()) {
    std::vector<PendingSubmit*> all;
    std::vector<std::string> queues;
    std::size_t jobs = 0;
    for (auto& p : group) {
      all.push_back(&p);
      for (const auto& s : p.specs) {
        if (std::find(queues.begin(), queues.end(), s.queue) == queues.end()) {
          queues.push_back(s.queue);
        }
      }
      jobs += p.specs.size();
    }
    // Long polls parked here on these queues get their jobs in this very
    // transaction: one durable write for the submit and the lease.
    std::vector<HandOff> hand_offs = reserve_parked(queues, jobs);
    const Body<std::vector<SubmitOutcome>> together = [this, &all, &hand_offs](PgConnection& c,
                                                                               PgChange& change) {
      return insert_jobs(c, change, all, hand_offs);
    };
    auto outcomes = run_transaction(session, together);
    for (auto& h : hand_offs) {
      claimed(h.ticket, outcomes.is_ok() ? std::move(h.jobs) : std::vector<JobView>{});
    }
    if (!outcomes.is_ok() && group.size() > 1 && outcomes.status().code() != Code::kUnavailable) {
      // A refusal (a key used with another payload, a full queue) is one
      // caller's: each goes alone, and hears its own answer.
      for (auto& p : group) {
        std::vector<PendingSubmit*> one{&p};
        std::vector<HandOff> none;
        const Body<std::vector<SubmitOutcome>> alone = [this, &one, &none](PgConnection& c,
                                                                           PgChange& change) {
          return insert_jobs(c, change, one, none);
        };
        p.done(run_transaction(session, alone));
      }
      continue;
    }
    if (!outcomes.is_ok()) {
      for (auto& p : group) p.done(outcomes.status());
      continue;
    }
    auto next = outcomes.value().begin();
    for (auto& p : group) {
      std::vector<SubmitOutcome> mine(std::make_move_iterator(next),
                                      std::make_move_iterator(next + p.specs.size()));
      next += static_cast<std::ptrdiff_t>(p.specs.size());
      p.done(std::move(mine));
    }
  }
}

void PostgresBroker::hand_off(JobRecord& r, const std::string& payload,
                              std::vector<HandOff>& hand_offs, PgChange& change) {
  for (auto& h : hand_offs) {
    if (static_cast<int>(h.jobs.size()) >= h.spec.max) continue;
    const auto& qs = h.spec.queues;
    if (std::find(qs.begin(), qs.end(), r.queue) == qs.end()) continue;
    lease_job(r, h.spec.worker, new_lease_token(), h.spec.lease_ms.value_or(r.lease_ms),
              now_millis(), change);
    change.taken(r.queue);
    change.keep_leased(r, payload);
    h.jobs.push_back(JobView{r, payload, {}});
    return;
  }
}

Result<std::vector<std::string>> PostgresBroker::admit(
    PgConnection& c, const std::map<std::string, std::int64_t>& adding) {
  std::vector<std::string> names;
  for (const auto& [name, n] : adding) names.push_back(name);
  // Queues whose settings this server knows, without a limit: checked in
  // this transaction instead of read before it (known_queues.hpp).
  std::vector<std::string> paused;
  std::vector<std::pair<std::string, bool>> assumed;
  for (const auto& name : names) {
    const auto known = known_queues_.get(name);
    if (!known || known->max_queued > 0) break;
    assumed.emplace_back(name, known->paused);
  }
  if (assumed.size() == names.size()) {
    for (const auto& [name, is_paused] : assumed) {
      c.defer("queue_as_read",
              "SELECT errand.as_read(count(*) = 1) FROM errand.queues "
              "WHERE name = $1 AND paused = $2 AND max_queued <= 0",
              PgParams().text(name).boolean(is_paused));
      if (is_paused) paused.push_back(name);
    }
    return paused;
  }
  const auto known = c.run(
      "queue_settings", "SELECT name, max_queued, paused FROM errand.queues WHERE name = ANY($1)",
      PgParams().text_array(names));
  std::map<std::string, std::int64_t, std::less<>> limits;
  for (int i = 0; i < known.rows(); ++i) {
    std::string name(known.text(i, 0));
    known_queues_.put(name, {known.integer(i, 1), known.boolean(i, 2)});
    if (known.boolean(i, 2)) paused.push_back(name);
    limits.emplace(std::move(name), known.integer(i, 1));
  }
  std::vector<std::string> unknown;
  for (const auto& name : names) {
    if (!limits.contains(name)) unknown.push_back(name);
  }
  if (!unknown.empty()) {
    c.run("add_queues",
          "INSERT INTO errand.queues (name) SELECT unnest($1::text[]) ORDER BY 1 "
          "ON CONFLICT DO NOTHING",
          PgParams().text_array(unknown));
  }
  // A queue with max_queued counts what waits under a lock on its row, so
  // two submits cannot both take the last place. A queue without a limit
  // takes no lock: submits to it never wait on each other. (A limit set
  // meanwhile holds from the next submit.)
  for (const auto& [name, n] : adding) {
    const auto limit = limits.find(name);
    if (limit == limits.end() || limit->second <= 0) continue;
    const auto locked =
        c.run("lock_queue", "SELECT max_queued FROM errand.queues WHERE name = $1 FOR UPDATE",
              PgParams().text(name));
    const std::int64_t max_queued = locked.integer(0, 0);
    if (max_queued <= 0) continue;
    const auto w = c.run("waiting",
                         "SELECT coalesce(sum(n), 0) FROM errand.queue_counts "
                         "WHERE queue = $1 AND kind IN ('queued', 'scheduled')",
                         PgParams().text(name));
    const std::int64_t waiting = w.integer(0, 0);
    if (waiting + n > max_queued) {
      return resource_exhausted("queue '" + name + "' is full: " + std::to_string(waiting) +
                                " jobs wait, max_queued is " + std::to_string(max_queued));
    }
  }
  return paused;
}

Result<std::vector<SubmitOutcome>> PostgresBroker::insert_jobs(
    PgConnection& c, PgChange& change, const std::vector<PendingSubmit*>& group,
    std::vector<HandOff>& hand_offs) {
  for (auto& h : hand_offs) h.jobs.clear();  // a transaction tried again starts afresh
  std::vector<const SubmitSpec*> specs;
  std::vector<Millis> created;
  for (const PendingSubmit* p : group) {
    for (const SubmitSpec& s : p->specs) {
      specs.push_back(&s);
      created.push_back(p->now);
    }
  }
  static const std::string find_key = std::string("SELECT ") + kJobColumns +
                                      ", payload, result FROM errand.jobs "
                                      "WHERE queue = $1 AND idempotency_key = $2";
  // Every idempotency key first: the batch is all or nothing. A key
  // repeated inside the batch must carry the same payload too; its
  // second use replays the first.
  std::vector<SubmitOutcome> out(specs.size());
  std::vector<bool> replay(specs.size(), false);
  std::map<std::pair<std::string_view, std::string_view>, std::size_t> batch_keys;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const SubmitSpec& s = *specs[i];
    if (s.idempotency_key.empty()) continue;
    const std::string where = specs.size() > 1 ? " (job " + std::to_string(i) + ")" : std::string();
    const Status used = conflict("idempotency key '" + s.idempotency_key +
                                 "' is already used with a different payload" + where);
    auto [seen, fresh] = batch_keys.try_emplace({s.queue, s.idempotency_key}, i);
    if (!fresh) {
      if (specs[seen->second]->payload_json != s.payload_json) return used;
      replay[i] = true;
      continue;
    }
    const auto rows =
        c.run("find_key", find_key.c_str(), PgParams().text(s.queue).text(s.idempotency_key));
    if (rows.rows() == 0) continue;
    if (!same_json(rows.text(0, kJobColumnCount), s.payload_json)) return used;
    out[i].job = JobView{read_job_row(rows, 0), std::string(rows.text(0, kJobColumnCount)), {}};
    if (!rows.is_null(0, kJobColumnCount + 1)) {
      out[i].job.result_json = std::string(rows.text(0, kJobColumnCount + 1));
    }
    out[i].replayed = true;
  }
  std::map<std::string, std::int64_t> adding;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (!out[i].replayed && !replay[i]) ++adding[specs[i]->queue];
  }
  auto paused = admit(c, adding);
  if (!paused) return paused.status();
  std::vector<PgParams> rows;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const SubmitSpec& s = *specs[i];
    if (out[i].replayed) continue;
    if (replay[i]) {
      out[i] = out[batch_keys.at({s.queue, s.idempotency_key})];
      out[i].replayed = true;
      continue;
    }
    JobId id;
    {
      std::lock_guard lock(ids_mutex_);
      id = ids_.next(created[i]);
    }
    JobRecord r = new_job(s, id, created[i], change);
    // Before COMMIT: whatever ends it comes after, and is seen (unfinished_jobs.hpp).
    if (!is_terminal(r.state)) unfinished_.add(r.id);
    if (r.state == JobState::kQueued &&
        std::find(paused->begin(), paused->end(), r.queue) == paused->end()) {
      hand_off(r, s.payload_json, hand_offs, change);
    }
    rows.push_back(insert_job_params(r, s.payload_json));
    out[i].job = JobView{std::move(r), s.payload_json, {}};
  }
  if (!rows.empty()) {
    // Another submit may take a key since we looked: the INSERT then fails
    // (key_taken()), and the transaction goes again, to replay it.
    // A lone job as one row: no arrays for PostgreSQL to parse and unnest.
    if (rows.size() == 1) {
      c.defer("insert_job", kInsertJobSql, rows.front());
    } else {
      c.defer("insert_jobs", kInsertJobsSql, PgParams::columns(rows));
    }
  }
  std::vector<JobView*> views;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (specs[i]->wants_waiting_on) views.push_back(&out[i].job);
  }
  explain_all(c, views);
  return out;
}

// ---- Leases -----------------------------------------------------------------

std::vector<JobView> PostgresBroker::take_ready(PgConnection& c, const LeaseSpec& spec, Millis now,
                                                PgChange& change) {
  static const std::string claim = std::string("SELECT ") + kJobColumns +
                                   ", payload FROM errand.jobs WHERE queue = $1 AND state = "
                                   "'queued' ORDER BY priority DESC, run_at, id LIMIT $2 "
                                   "FOR UPDATE SKIP LOCKED";
  std::vector<JobView> leased;
  const auto paused =
      c.run("paused_of", "SELECT name FROM errand.queues WHERE paused AND name = ANY($1::text[])",
            PgParams().text_array(spec.queues));
  for (const auto& name : spec.queues) {
    bool is_paused = false;
    for (int i = 0; i < paused.rows(); ++i) is_paused = is_paused || paused.text(i, 0) == name;
    if (is_paused) continue;
    while (static_cast<int>(leased.size()) < spec.max) {
      const int want = spec.max - static_cast<int>(leased.size());
      const auto rows = c.run("claim", claim.c_str(), PgParams().text(name).integer(want));
      const std::size_t before = leased.size();
      for (int i = 0; i < rows.rows(); ++i) {
        JobRecord r = read_job_row(rows, i);
        if (r.deadline && *r.deadline <= now) {
          // Its timer has not run yet; never deliver it late. Written now,
          // or the next claim of this loop would find it again.
          expire_job(r, now, change);
          save_job(c, r);
          continue;
        }
        lease_job(r, spec.worker, new_lease_token(), spec.lease_ms.value_or(r.lease_ms), now,
                  change);
        leased.push_back(JobView{std::move(r), std::string(rows.text(i, kJobColumnCount)), {}});
        change.keep_leased(leased.back().record, leased.back().payload_json);
      }
      // Written before the next claim, which would find them again.
      std::vector<const JobRecord*> taken;
      for (std::size_t i = before; i < leased.size(); ++i) taken.push_back(&leased[i].record);
      save_jobs(c, taken);
      if (rows.rows() < want) break;  // the queue has no more (unlocked) ready jobs
      // Stopped at max: the queue may have more, so the wake-up goes on to
      // the next worker (one claim that finds nothing, if it had not).
      if (static_cast<int>(leased.size()) >= spec.max) change.ready(name);
    }
    if (static_cast<int>(leased.size()) >= spec.max) break;
  }
  add_flow_inputs(c, leased);
  return leased;
}

void PostgresBroker::lease(LeaseSpec spec, Callback<std::vector<JobView>> done) {
  activity_.asked(spec.queues, now_millis());
  transact<std::vector<JobView>>(
      std::move(done),
      [this, spec = std::move(spec)](PgConnection& c, PgChange& change)
          -> Result<std::vector<JobView>> { return take_ready(c, spec, now_millis(), change); });
}

std::uint64_t PostgresBroker::lease_or_park(LeaseSpec spec, Callback<std::vector<JobView>> done) {
  if (stopping_) return done(unavailable("the store is shut down")), 0;
  activity_.asked(spec.queues, now_millis());
  std::lock_guard lock(parked_mutex_);
  const std::uint64_t ticket = next_ticket_++;
  parked_.push_back(Parked{ticket, std::move(spec), std::move(done)});
  // A worker back for more after its job: if nothing is ready, it need not
  // look. It waits for a wake, as after a claim that found nothing.
  if (!empty_queues_.all_empty(parked_.back().spec.queues)) claim(parked_.back());
  return ticket;
}

void PostgresBroker::claim(Parked& p) {
  p.claiming = true;
  p.again = false;
  p.claim_started = empty_queues_.claim_started();
  // Straight to the pool, not through transact(): that may answer at once,
  // and claimed() takes the parked_mutex_ held here.
  pool_.post([this, ticket = p.ticket, spec = p.spec](PgSession& session) {
    const Body<std::vector<JobView>> body = [this, &spec](PgConnection& c, PgChange& change) {
      return Result<std::vector<JobView>>(take_ready(c, spec, now_millis(), change));
    };
    claimed(ticket, run_transaction(session, body));
  });
}

void PostgresBroker::claimed(std::uint64_t ticket, Result<std::vector<JobView>> jobs) {
  Callback<std::vector<JobView>> done;
  std::string pass_on;  // a queue that may have more jobs for the next in line
  {
    std::lock_guard lock(parked_mutex_);
    const auto it = std::find_if(parked_.begin(), parked_.end(),
                                 [ticket](const Parked& p) { return p.ticket == ticket; });
    if (it == parked_.end()) return;
    const bool got = !jobs.is_ok() || !jobs.value().empty();
    if (!got && stopping_) jobs = unavailable("the store is shut down");
    if (!got && !it->withdrawn && !stopping_) {
      if (it->claim_started) empty_queues_.found_none(it->spec.queues, *it->claim_started);
      if (it->again) {
        claim(*it);
      } else {
        it->claiming = false;
      }
      return;
    }
    if (jobs.is_ok() && static_cast<int>(jobs.value().size()) >= it->spec.max) {
      pass_on = jobs.value().back().record.queue;
    }
    done = std::move(it->done);
    parked_.erase(it);
  }
  done(std::move(jobs));
  if (!pass_on.empty()) wake_parked(pass_on);
}

void PostgresBroker::wake_parked(const std::string& queue) {
  std::lock_guard lock(parked_mutex_);
  empty_queues_.woken(queue);
  for (auto& p : parked_) {
    if (std::find(p.spec.queues.begin(), p.spec.queues.end(), queue) == p.spec.queues.end()) {
      continue;
    }
    // The oldest request goes first. One that is claiming already claims
    // again when done, and passes the wake on if it fills up.
    if (p.claiming) {
      p.again = true;
    } else {
      claim(p);
    }
    return;
  }
}

void PostgresBroker::wake_all_parked() {
  std::vector<std::string> queues;
  {
    std::lock_guard lock(parked_mutex_);
    empty_queues_.forget_all();
    for (const auto& p : parked_) {
      for (const auto& q : p.spec.queues) {
        if (std::find(queues.begin(), queues.end(), q) == queues.end()) queues.push_back(q);
      }
    }
  }
  for (const auto& q : queues) wake_parked(q);
}

void PostgresBroker::hearing_changes(bool heard) {
  if (heard) {
    unfinished_.enable();
    ended_.enable();
  } else {
    unfinished_.disable();
    ended_.disable();
  }
  std::lock_guard lock(parked_mutex_);
  empty_queues_.trust(heard);
}

bool PostgresBroker::unpark(std::uint64_t ticket) {
  Callback<std::vector<JobView>> dropped;  // destroyed outside the lock
  std::lock_guard lock(parked_mutex_);
  const auto it = std::find_if(parked_.begin(), parked_.end(),
                               [ticket](const Parked& p) { return p.ticket == ticket; });
  if (it == parked_.end()) return false;
  if (it->claiming) {
    // Its claim may be leasing jobs right now: it answers, jobs or none.
    it->withdrawn = true;
    return false;
  }
  dropped = std::move(it->done);
  parked_.erase(it);
  return true;
}

// ---- Worker calls -----------------------------------------------------------

void PostgresBroker::ack(AckSpec spec, Callback<JobState> done) {
  if (stopping_) return done(unavailable("the store is shut down"));
  if (acks_.add(PendingAck{std::move(spec), std::move(done)})) {
    pool_.post([this](PgSession& session) { run_acks(session); });
  }
}

void PostgresBroker::run_acks(PgSession& session) {
  for (auto group = acks_.next(); !group.empty(); group = acks_.next()) {
    // Each ack's refusal (a lost lease) is its own; the transaction fails
    // only as a whole (PostgreSQL gone).
    std::vector<Result<JobState>> answers;
    const Body<Empty> body = [this, &group, &answers](PgConnection& c, PgChange& change) {
      answers = ack_jobs(c, change, group);
      return Result<Empty>(Empty{});
    };
    const auto committed = run_transaction(session, body);
    for (std::size_t i = 0; i < group.size(); ++i) {
      group[i].done(committed.is_ok() ? std::move(answers[i]) : committed.status());
    }
  }
}

std::vector<LeasedRows::Row> PostgresBroker::known_leased(const std::vector<PendingAck>& group) {
  std::vector<LeasedRows::Row> rows;
  for (const auto& a : group) {
    const auto same = [&a](const LeasedRows::Row& r) { return r.record.id == a.spec.id; };
    if (std::any_of(rows.begin(), rows.end(), same)) continue;  // acked twice in the group
    auto row = leased_.take(a.spec.id, a.spec.lease);
    if (!row) return {};
    rows.push_back(std::move(*row));
  }
  return rows;
}

std::vector<Result<JobState>> PostgresBroker::ack_jobs(PgConnection& c, PgChange& change,
                                                       const std::vector<PendingAck>& group) {
  std::map<JobId, JobRecord> jobs;
  std::map<JobId, std::string> payloads;  // of the jobs someone here waits on
  // Acks of jobs leased here write on the rows their leases left, without
  // reading them; a row changed since fails the transaction, and the next
  // try reads (leased_rows.hpp).
  std::map<JobId, std::string> read_as;
  for (auto& row : known_leased(group)) {
    const JobId id = row.record.id;
    if (waiters_.has_waiters(job_topic(id))) payloads.emplace(id, std::move(row.payload_json));
    read_as.emplace(id, std::move(row.xmin));
    jobs.emplace(id, std::move(row.record));
  }
  if (jobs.empty()) lock_acked(c, group, jobs, payloads);
  std::vector<Result<JobState>> answers;
  std::map<JobId, const std::string*> results;  // the jobs acked, with their results
  const Millis now = now_millis();
  for (const auto& a : group) {
    const auto it = jobs.find(a.spec.id);
    if (it == jobs.end()) {
      answers.emplace_back(job_not_found(a.spec.id));
      continue;
    }
    JobRecord& r = it->second;
    // In order: a second ack of one job in the group finds it succeeded.
    if (r.state != JobState::kRunning || r.lease_token != a.spec.lease) {
      answers.emplace_back(lease_lost(a.spec.id));
      continue;
    }
    ack_job(r, now, change);
    results[r.id] = &a.spec.result_json;
    answers.emplace_back(JobState::kSucceeded);
    if (const auto payload = payloads.find(r.id); payload != payloads.end()) {
      JobView ended{r, payload->second, a.spec.result_json};
      explain(c, ended);  // an ended job's needs no query
      change.ended(r.id, ended_.put(std::move(ended)));
    }
  }
  std::vector<const JobRecord*> acked;
  std::vector<const std::string*> acked_results;
  for (const auto& [id, result] : results) {
    acked.push_back(&jobs.at(id));
    acked_results.push_back(result);
  }
  if (read_as.empty()) {
    save_jobs(c, acked, &acked_results);
    return answers;
  }
  std::vector<PgParams> rows;
  for (std::size_t i = 0; i < acked.size(); ++i) {
    rows.push_back(
        update_job_params(*acked[i]).text(*acked_results[i]).text(read_as.at(acked[i]->id)));
  }
  if (rows.size() == 1) {
    c.defer("update_job_result_as_read", kUpdateJobWithResultAsReadSql, rows.front());
  } else if (!rows.empty()) {
    c.defer_exec(kUpdateJobsWithResultAsReadSql, PgParams::columns(rows));
  }
  return answers;
}

void PostgresBroker::lock_acked(PgConnection& c, const std::vector<PendingAck>& group,
                                std::map<JobId, JobRecord>& jobs,
                                std::map<JobId, std::string>& payloads) {
  // The payload too of the jobs someone here waits on: their views as the
  // ack leaves them answer the waiters (ended_jobs.hpp).
  static const std::string lock_one = std::string("SELECT ") + kJobColumns +
                                      ", CASE WHEN $2 THEN payload END FROM errand.jobs "
                                      "WHERE id = $1 FOR UPDATE";
  static const std::string lock_many = std::string("SELECT ") + kJobColumns +
                                       ", CASE WHEN id = ANY($2::uuid[]) THEN payload END "
                                       "FROM errand.jobs WHERE id = ANY($1::uuid[]) "
                                       "ORDER BY id FOR UPDATE";
  std::vector<std::string> ids, waited;
  for (const auto& a : group) {
    ids.push_back(a.spec.id.to_string());
    if (waiters_.has_waiters(job_topic(a.spec.id))) waited.push_back(ids.back());
  }
  const auto rows = group.size() == 1
                        ? c.run("lock_acked_job", lock_one.c_str(),
                                PgParams().text(ids[0]).boolean(!waited.empty()))
                        : c.exec(lock_many, PgParams().text_array(ids).text_array(waited));
  for (int i = 0; i < rows.rows(); ++i) {
    JobRecord r = read_job_row(rows, i);
    if (!rows.is_null(i, kJobColumnCount)) payloads.emplace(r.id, rows.text(i, kJobColumnCount));
    jobs.emplace(r.id, std::move(r));
  }
}

void PostgresBroker::fail(FailSpec spec, Callback<FailOutcome> done) {
  transact<FailOutcome>(
      std::move(done),
      [this, spec = std::move(spec)](PgConnection& c, PgChange& change) -> Result<FailOutcome> {
        std::optional<LeasedRows::Row> known;
        auto r = leased_job(c, spec.id, spec.lease, known);
        if (!r) return r.status();
        FailOutcome out = fail_attempt(*r, spec.error, spec.retry, spec.retry_in_ms, unit_random(),
                                       now_millis(), change);
        save_leased(c, *r, known, change);
        return out;
      });
}

void PostgresBroker::heartbeat(HeartbeatSpec spec, Callback<HeartbeatOutcome> done) {
  transact<HeartbeatOutcome>(std::move(done),
                             [this, spec = std::move(spec)](
                                 PgConnection& c, PgChange& change) -> Result<HeartbeatOutcome> {
                               std::optional<LeasedRows::Row> known;
                               auto r = leased_job(c, spec.id, spec.lease, known);
                               if (!r) return r.status();
                               HeartbeatOutcome out = heartbeat_job(
                                   *r, spec.lease_ms, spec.progress_json, now_millis(), change);
                               save_leased(c, *r, known, change);
                               return out;
                             });
}

// ---- Operators --------------------------------------------------------------

void PostgresBroker::cancel(JobId id, Callback<JobView> done) {
  transact<JobView>(std::move(done),
                    [this, id](PgConnection& c, PgChange& change) -> Result<JobView> {
                      auto r = lock_job(c, id);
                      if (!r) return job_not_found(id);
                      if (Status refused = check_cancel(*r); !refused.is_ok()) return refused;
                      cancel_job(*r, now_millis(), change);
                      save_job(c, *r);
                      return read_job(c, id, true);
                    });
}

void PostgresBroker::retry(JobId id, Callback<JobView> done) {
  transact<JobView>(std::move(done),
                    [this, id](PgConnection& c, PgChange& change) -> Result<JobView> {
                      auto r = lock_job(c, id);
                      if (!r) return job_not_found(id);
                      if (Status refused = check_retry(*r); !refused.is_ok()) return refused;
                      retry_job(*r, now_millis(), change);
                      save_job(c, *r);
                      return read_job(c, id, true);
                    });
}

void PostgresBroker::discard(JobId id, Callback<Empty> done) {
  transact<Empty>(std::move(done), [this, id](PgConnection& c, PgChange& change) -> Result<Empty> {
    const auto r = lock_job(c, id);
    if (!r) return job_not_found(id);
    if (Status refused = check_discard(*r); !refused.is_ok()) return refused;
    remove_job(c, *r, now_millis(), change);
    return Empty{};
  });
}

void PostgresBroker::set_paused(std::string name, bool paused, Callback<QueueStats> done) {
  transact<QueueStats>(std::move(done),
                       [this, name = std::move(name), paused](
                           PgConnection& c, PgChange& change) -> Result<QueueStats> {
                         known_queues_.forget(name);  // spares the next submit a try
                         c.run("set_paused",
                               "INSERT INTO errand.queues (name, paused) VALUES ($1, $2) "
                               "ON CONFLICT (name) DO UPDATE SET paused = EXCLUDED.paused",
                               PgParams().text(name).boolean(paused));
                         // Parked leases and other instances: jobs may be ready now.
                         change.wrote();
                         if (!paused) change.ready(name);  // tells the others too
                         auto stats = read_queues(c, &name);
                         if (!stats) return stats.status();
                         return std::move(stats.value().front());
                       });
}

void PostgresBroker::configure_queue(std::string name, QueueSettingsChange change,
                                     Callback<QueueStats> done) {
  transact<QueueStats>(
      std::move(done),
      [this, name = std::move(name), change](PgConnection& c,
                                             PgChange& written) -> Result<QueueStats> {
        written.wrote();
        known_queues_.forget(name);  // spares the next submit a try
        PgParams p;
        p.text(name);
        if (change.max_queued) {
          p.integer(std::max<std::int64_t>(0, *change.max_queued));
        } else {
          p.null();
        }
        c.run(
            "configure_queue",
            "INSERT INTO errand.queues (name, max_queued) VALUES ($1, coalesce($2, 0)) "
            "ON CONFLICT (name) DO UPDATE SET max_queued = coalesce($2, errand.queues.max_queued)",
            p);
        auto stats = read_queues(c, &name);
        if (!stats) return stats.status();
        return std::move(stats.value().front());
      });
}

// ---- Reads ------------------------------------------------------------------

void PostgresBroker::get(JobId id, Callback<JobView> done) {
  read<JobView>(std::move(done), [this, id](PgConnection& c) { return read_job(c, id, true); });
}

void PostgresBroker::timeline(JobId id, std::uint32_t after_seq,
                              Callback<std::vector<TimelineEvent>> done) {
  read<std::vector<TimelineEvent>>(
      std::move(done),
      [this, id, after_seq](PgConnection& c) -> Result<std::vector<TimelineEvent>> {
        const auto found =
            c.run("job_exists", "SELECT 1 FROM errand.jobs WHERE id = $1", id_param(id));
        if (found.rows() == 0) return job_not_found(id);
        return read_timeline(c, id, after_seq);
      });
}

void PostgresBroker::list(ListSpec spec, Callback<JobPage> done) {
  read<JobPage>(
      std::move(done), [this, spec = std::move(spec)](PgConnection& c) -> Result<JobPage> {
        NewestFirstQuery query(std::string("SELECT ") + kJobColumns +
                               ", payload, result FROM errand.jobs");
        if (spec.queue) query.equals("queue", *spec.queue);
        if (spec.state) query.equals("state", to_string(*spec.state));
        const auto rows = query.run(c, spec.before, spec.limit);
        JobPage page;
        for (int i = 0; i < std::min(rows.rows(), spec.limit); ++i) {
          JobView v{read_job_row(rows, i), std::string(rows.text(i, kJobColumnCount)), {}};
          if (v.record.state == JobState::kSucceeded && !rows.is_null(i, kJobColumnCount + 1)) {
            v.result_json = std::string(rows.text(i, kJobColumnCount + 1));
          }
          explain(c, v);
          page.jobs.push_back(std::move(v));
        }
        if (rows.rows() > spec.limit && !page.jobs.empty()) page.next = page.jobs.back().record.id;
        return page;
      });
}

Result<std::vector<QueueStats>> PostgresBroker::read_queues(PgConnection& c,
                                                            const std::string* only) {
  PgParams p;
  if (only) p.text(*only);
  const std::string where = only ? " WHERE q.name = $1" : "";
  const auto rows = c.exec(
      "SELECT q.name, q.paused, q.max_queued, errand.oldest_ready(q.name) FROM errand.queues q" +
          where + " ORDER BY q.name",
      p);
  const auto counts =
      c.exec("SELECT queue, kind, sum(n) FROM errand.queue_counts" +
                 std::string(only ? " WHERE queue = $1" : "") + " GROUP BY queue, kind",
             p);
  if (only && rows.rows() == 0) return not_found("no queue named '" + *only + "'");
  const Millis now = now_millis();
  std::vector<QueueStats> out;
  std::map<std::string, std::size_t, std::less<>> at;
  for (int i = 0; i < rows.rows(); ++i) {
    QueueStats s;
    s.name = std::string(rows.text(i, 0));
    s.paused = rows.boolean(i, 1);
    if (rows.integer(i, 2) > 0) s.max_queued = rows.integer(i, 2);
    if (const auto oldest = rows.optional_integer(i, 3)) {
      s.oldest_queued_ms = std::max<std::int64_t>(0, now - *oldest);
    }
    QueueFacts activity;
    activity_.describe(s.name, activity);
    s.last_lease_request_at = activity.last_lease_request_at;
    s.asking_now = activity.asking_now;
    at[s.name] = out.size();
    out.push_back(std::move(s));
  }
  for (int i = 0; i < counts.rows(); ++i) {
    const auto it = at.find(counts.text(i, 0));
    if (it == at.end()) continue;
    QueueStats& s = out[it->second];
    const auto kind = counts.text(i, 1);
    const std::int64_t n = counts.integer(i, 2);
    if (kind == "enqueued_total") {
      s.enqueued_total = n;
    } else if (kind == "succeeded_total") {
      s.succeeded_total = n;
    } else if (kind == "failed_total") {
      s.failed_total = n;
    } else if (const auto state = parse_job_state(kind)) {
      s.counts[static_cast<int>(*state)] = n;
    }
  }
  return out;
}

void PostgresBroker::queues(Callback<std::vector<QueueStats>> done) {
  read<std::vector<QueueStats>>(std::move(done),
                                [this](PgConnection& c) { return read_queues(c, nullptr); });
}

void PostgresBroker::queue(std::string name, Callback<QueueStats> done) {
  read<QueueStats>(std::move(done),
                   [this, name = std::move(name)](PgConnection& c) -> Result<QueueStats> {
                     auto all = read_queues(c, &name);
                     if (!all) return all.status();
                     return std::move(all.value().front());
                   });
}

// ---- Flows (pg_flows.cpp) ------------------------------------------------------

// The transactions and reads pg_flows.cpp runs, made from the templates above.
template void PostgresBroker::transact<FlowSubmitOutcome>(Callback<FlowSubmitOutcome>,
                                                          Body<FlowSubmitOutcome>);
template void PostgresBroker::transact<Empty>(Callback<Empty>, Body<Empty>);
template void PostgresBroker::read<FlowView>(Callback<FlowView>,
                                             std::function<Result<FlowView>(PgConnection&)>);
template void PostgresBroker::read<FlowPage>(Callback<FlowPage>,
                                             std::function<Result<FlowPage>(PgConnection&)>);
template void PostgresBroker::read<std::vector<TimelineEvent>>(
    Callback<std::vector<TimelineEvent>>,
    std::function<Result<std::vector<TimelineEvent>>(PgConnection&)>);

// ---- Shutdown -----------------------------------------------------------------

void PostgresBroker::shutdown() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(sweep_mutex_);  // the sweeper checks stopping_ under it
  }
  sweep_wake_.notify_all();
  stop_listening();
  if (sweeper_.joinable()) sweeper_.join();
  if (listener_.joinable()) listener_.join();
  if (stop_fd_ >= 0) ::close(stop_fd_);
  stop_fd_ = -1;
  std::list<Parked> parked;
  {
    std::lock_guard lock(parked_mutex_);
    parked.swap(parked_);
  }
  for (auto& p : parked) p.done(unavailable("the store is shut down"));
  waiters_.notify_everyone();
}

}  // namespace detail

Result<int> migrate_postgres(const std::string& url) {
  try {
    PgConnection c(url);
    return migrate(c);
  } catch (const PgError& e) {
    return unavailable(e.what());
  }
}

Result<std::unique_ptr<Broker>> open_postgres_broker(const PostgresOptions& options) {
  if (auto migrated = migrate_postgres(options.url); !migrated) return migrated.status();
  auto broker = std::make_unique<detail::PostgresBroker>(options);
  broker->start();
  return std::unique_ptr<Broker>(std::move(broker));
}

}  // namespace errand::postgres
