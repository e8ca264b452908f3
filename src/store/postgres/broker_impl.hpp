// The PostgreSQL Broker's insides, shared by postgres_broker.cpp (jobs and
// queues), pg_flows.cpp (flows) and pg_background.cpp (the listener and the
// timer sweep). Not a public header.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "engine/change_feed.hpp"
#include "engine/ended_jobs.hpp"
#include "engine/flow_driver.hpp"
#include "engine/job_transitions.hpp"
#include "engine/timeline.hpp"
#include "engine/waiter_registry.hpp"
#include "engine/waiting_on.hpp"
#include "store/postgres/empty_queues.hpp"
#include "store/postgres/job_rows.hpp"
#include "store/postgres/known_queues.hpp"
#include "store/postgres/leased_rows.hpp"
#include "store/postgres/op_groups.hpp"
#include "store/postgres/pg_pool.hpp"
#include "store/postgres/postgres_broker.hpp"
#include "store/postgres/unfinished_jobs.hpp"

namespace errand::postgres::detail {

// How many times a transaction PostgreSQL aborted for a serialization
// failure or deadlock (or a submit that lost a race for an idempotency key,
// or what a submit or an ack went by changed: admit, ack_jobs) is tried
// before the caller is told.
inline constexpr int kTransactionTries = 4;

// Group commit (op_groups.hpp): how many transactions of one kind run at a
// time, and how many operations one takes at most.
inline constexpr int kGroupsRunning = 2;
inline constexpr std::size_t kMaxSubmitGroup = 256;
inline constexpr std::size_t kMaxAckGroup = 1000;

// How many jobs known_unfinished() remembers (unfinished_jobs.hpp), and
// ended_view() (ended_jobs.hpp).
inline constexpr std::size_t kKnownUnfinished = 100'000;
inline constexpr std::size_t kKnownEnded = 10'000;
inline constexpr std::size_t kKnownEndedBytes = 8 << 20;
// How many leased rows it remembers (leased_rows.hpp), and their bytes.
inline constexpr std::size_t kKnownLeased = 50'000;
inline constexpr std::size_t kKnownLeasedBytes = 32 << 20;
// How many queues' settings it remembers (known_queues.hpp).
inline constexpr std::size_t kKnownQueues = 10'000;

// What one transaction changed besides job rows: its timeline events (written
// before COMMIT), and what to tell this instance once it committed (other
// instances hear it from the trigger's NOTIFY).
class PgChange final : public JobChanges {
 public:
  void event(JobRecord& r, Millis at, std::string_view type, std::string_view fields = {}) override;
  void moved(const JobRecord& r, std::optional<JobState> from, Millis at) override;
  void ready(const std::string& queue, std::size_t n = 1) override {
    ready_.emplace_back(queue, n);
  }
  // A job that became ready was leased in the same transaction (a hand-off
  // to a parked lease): nobody else need be woken for it.
  void taken(const std::string& queue) {
    for (auto it = ready_.rbegin(); it != ready_.rend(); ++it) {
      if (it->first != queue) continue;
      if (--it->second == 0) ready_.erase(std::next(it).base());
      return;
    }
  }
  void removed(const JobRecord& r, Millis at) {
    changes_.push_back(state_change(r, r.state, std::nullopt, at));
    touched(r.id);
  }
  void touched(const JobId& id) { touched_jobs_.push_back(id); }
  // Flows (pg_flows.cpp): the flow's next timeline event (bumps
  // f.timeline_seq), and a change of its row.
  void flow_event(FlowRecord& f, Millis at, std::string_view type, std::string_view fields = {});
  void touched_flow(const JobId& id) { touched_flows_.push_back(id); }
  // A job this change leases, as it writes the row, for LeasedRows once
  // committed.
  void keep_leased(const JobRecord& r, const std::string& payload_json) {
    leased_.push_back(LeasedRows::Row{r, payload_json, {}});
    leased_.back().record.payload_hash = 0;  // not a column: as a read gives it
  }
  std::vector<LeasedRows::Row>& leased_rows() { return leased_; }
  // A job's view as this change ends it, put in EndedJobs (its token).
  void ended(const JobId& id, std::uint64_t token) { ended_puts_.emplace_back(id, token); }
  // The jobs of flows that moved to a terminal state in this change, as they
  // were then, in order: advance_flows() advances their flows.
  const std::vector<JobRecord>& flow_step_ends() const { return flow_step_ends_; }
  // A write that leaves no event, such as a queue's settings.
  void wrote() { wrote_ = true; }
  bool empty() const {
    return !wrote_ && events_.empty() && changes_.empty() && touched_jobs_.empty() &&
           touched_flows_.empty();
  }
  const std::vector<std::pair<std::string, std::size_t>>& ready_queues() const { return ready_; }
  // The earliest timer (run_at, deadline, lease expiry) a moved job now has.
  std::optional<Millis> earliest_timer() const { return earliest_timer_; }

  // Inserts the events, the queue counts' deltas and the notifications
  // other servers hear ('<instance>|…', docs/storage-format.md), in one
  // statement; trims timelines past kTimelineLimit.
  void write(PgConnection& c, const std::string& instance) const;
  // Tells this instance: the jobs that ended are no longer known unfinished
  // and their ends are shown (others it changed are forgotten there), then
  // their waiters, the feeds and the parked leases hear of it.
  void publish(WaiterRegistry& waiters, UnfinishedJobs& unfinished, EndedJobs& ended,
               const ChangeFeed& feed, const ChangeFeed& cluster) const;

 private:
  struct Event {
    JobId owner;
    std::uint32_t seq;
    std::string json;
  };
  std::vector<Event> events_;
  std::vector<StateChange> changes_;
  std::vector<JobRecord> flow_step_ends_;
  std::vector<JobId> touched_jobs_;
  std::vector<JobId> touched_flows_;
  std::vector<std::pair<JobId, std::uint64_t>> ended_puts_;
  std::vector<LeasedRows::Row> leased_;
  std::vector<std::pair<std::string, std::size_t>> ready_;
  std::optional<Millis> earliest_timer_;
  bool wrote_ = false;
};

class PostgresBroker final : public Broker {
 public:
  explicit PostgresBroker(const PostgresOptions& options);
  ~PostgresBroker() override {
    shutdown();
    pool_.stop();
  }
  void start();

  void submit(std::vector<SubmitSpec> jobs, Callback<std::vector<SubmitOutcome>> done) override;
  void lease(LeaseSpec spec, Callback<std::vector<JobView>> done) override;
  std::uint64_t lease_or_park(LeaseSpec spec, Callback<std::vector<JobView>> done) override;
  bool unpark(std::uint64_t ticket) override;
  void ack(AckSpec spec, Callback<JobState> done) override;
  void fail(FailSpec spec, Callback<FailOutcome> done) override;
  void heartbeat(HeartbeatSpec spec, Callback<HeartbeatOutcome> done) override;
  void cancel(JobId id, Callback<JobView> done) override;
  void retry(JobId id, Callback<JobView> done) override;
  void discard(JobId id, Callback<Empty> done) override;
  void set_paused(std::string queue, bool paused, Callback<QueueStats> done) override;
  void configure_queue(std::string queue, QueueSettingsChange change,
                       Callback<QueueStats> done) override;
  void submit_flow(FlowSpec spec, Callback<FlowSubmitOutcome> done) override;
  void get_flow(JobId id, Callback<FlowView> done) override;
  void cancel_flow(JobId id, Callback<FlowView> done) override;
  void list_flows(FlowListSpec spec, Callback<FlowPage> done) override;
  void flow_timeline(JobId id, std::uint32_t after_seq,
                     Callback<std::vector<TimelineEvent>> done) override;
  void get(JobId id, Callback<JobView> done) override;
  void timeline(JobId id, std::uint32_t after_seq,
                Callback<std::vector<TimelineEvent>> done) override;
  void list(ListSpec spec, Callback<JobPage> done) override;
  void queues(Callback<std::vector<QueueStats>> done) override;
  void queue(std::string name, Callback<QueueStats> done) override;
  WaiterRegistry& waiters() override { return waiters_; }
  bool known_unfinished(const JobId& id) override { return unfinished_.contains(id); }
  std::optional<JobView> ended_view(const JobId& id) override { return ended_.get(id); }
  void lease_request_started(const std::vector<std::string>& queues) override {
    activity_.started(queues, now_millis());
  }
  void lease_request_ended(const std::vector<std::string>& queues) override {
    activity_.ended(queues, now_millis());
  }
  ChangeFeed& changes() override { return change_feed_; }
  ChangeFeed& cluster_changes() override { return cluster_feed_; }
  CommitFeed& commits() override { return commit_feed_; }
  bool healthy() const override { return healthy_.load(); }
  void shutdown() override;

 private:
  // A transaction: `body` reads and locks what it needs and changes rows,
  // collecting the rest in a PgChange; then the events are written, COMMIT
  // runs, this instance is told, and `done` gets body's answer. A body that
  // returns an error rolls back. Runs on the pool.
  template <typename T>
  using Body = std::function<Result<T>(PgConnection&, PgChange&)>;
  template <typename T>
  void transact(Callback<T> done, Body<T> body);
  template <typename T>
  Result<T> run_transaction(PgSession& session, const Body<T>& body);
  // One try of it on `c`; throws PgError.
  template <typename T>
  Result<T> commit_on(PgConnection& c, const Body<T>& body);
  // A read without a transaction of its own. Runs on the pool.
  template <typename T>
  void read(Callback<T> done, std::function<Result<T>(PgConnection&)> body);
  // What a PgError means to a caller; marks the store unhealthy when the
  // connection is gone.
  Status failure(const PgError& e);

  // The job `id` locked FOR UPDATE, or nullopt.
  std::optional<JobRecord> lock_job(PgConnection& c, const JobId& id);
  // Deletes a job and its timeline (discard, retention).
  void remove_job(PgConnection& c, const JobRecord& r, Millis now, PgChange& change);
  // Writes the fields a transition changes; with `result`, the result too.
  void save_job(PgConnection& c, const JobRecord& r, const std::string* result = nullptr);
  // The same for many jobs in one statement; `results`, when given, holds
  // each job's result.
  void save_jobs(PgConnection& c, const std::vector<const JobRecord*>& jobs,
                 const std::vector<const std::string*>* results = nullptr);
  // The running job `id` locked, if `token` is its lease (fencing). Or, when
  // its lease was made here (leased_rows.hpp), as that lease left it,
  // unread: `known` then holds what this server knew, and save_leased()
  // writes only if the row is still so.
  Result<JobRecord> leased_job(PgConnection& c, const JobId& id, const std::string& token,
                               std::optional<LeasedRows::Row>& known);
  // Writes a job leased_job() gave: checked against what was known, and
  // known again after the commit while it runs (a heartbeat).
  void save_leased(PgConnection& c, const JobRecord& r, std::optional<LeasedRows::Row>& known,
                   PgChange& change);
  Result<JobView> read_job(PgConnection& c, const JobId& id, bool explained);
  // Sets v.waiting_on; returns the facts it was told from.
  QueueFacts explain(PgConnection& c, JobView& v);
  // explain() for many jobs, sparing the queries whose answer is known.
  void explain_all(PgConnection& c, const std::vector<JobView*>& views);

  // Submits and acks go in groups (op_groups.hpp).
  struct PendingSubmit {
    std::vector<SubmitSpec> specs;
    Millis now;  // a job is created when it was asked for, not when a connection was free
    Callback<std::vector<SubmitOutcome>> done;
  };
  struct PendingAck {
    AckSpec spec;
    Callback<JobState> done;
  };
  // A parked long poll a group of submits may serve in its own transaction
  // (reserved: no claim of its own runs meanwhile), and the jobs it got.
  struct HandOff {
    std::uint64_t ticket;
    LeaseSpec spec;
    std::vector<JobView> jobs;
  };
  // Reserves up to `most` idle parked requests on `queues`.
  std::vector<HandOff> reserve_parked(const std::vector<std::string>& queues, std::size_t most);
  // Leases the new job `r` to the first reserved request that wants it.
  void hand_off(JobRecord& r, const std::string& payload, std::vector<HandOff>& hand_offs,
                PgChange& change);
  void run_submits(PgSession& session);
  void run_acks(PgSession& session);
  // The submits of `group` in one transaction: their outcomes in order, or
  // the first refusal (all or nothing).
  Result<std::vector<SubmitOutcome>> insert_jobs(PgConnection& c, PgChange& change,
                                                 const std::vector<PendingSubmit*>& group,
                                                 std::vector<HandOff>& hand_offs);
  // Admission of `adding` jobs per queue: adds the queues not known yet,
  // and refuses (429) what would overfill a queue with max_queued. Returns
  // the paused ones among them (no hand-off there).
  Result<std::vector<std::string>> admit(PgConnection& c,
                                         const std::map<std::string, std::int64_t>& adding);
  std::vector<Result<JobState>> ack_jobs(PgConnection& c, PgChange& change,
                                         const std::vector<PendingAck>& group);
  // The rows of an ack group's jobs as their leases here left them
  // (leased_rows.hpp), taken, if each is known and running under its ack's
  // lease; otherwise none.
  std::vector<LeasedRows::Row> known_leased(const std::vector<PendingAck>& group);
  // An ack group's jobs read and locked, with the payloads of those someone
  // here waits on.
  void lock_acked(PgConnection& c, const std::vector<PendingAck>& group,
                  std::map<JobId, JobRecord>& jobs, std::map<JobId, std::string>& payloads);
  std::vector<TimelineEvent> read_timeline(PgConnection& c, const JobId& id,
                                           std::uint32_t after_seq);
  Result<std::vector<QueueStats>> read_queues(PgConnection& c, const std::string* only);
  std::vector<JobView> take_ready(PgConnection& c, const LeaseSpec& spec, Millis now,
                                  PgChange& change);
  std::string new_lease_token();
  double unit_random();

  // Flows (pg_flows.cpp; the rules are engine/flow_driver.hpp). A flow is a
  // row of errand.flows holding its record. A change of a step job advances
  // its flow in the same transaction, under the flow row's lock.
  class FlowTx;  // a FlowHost on one transaction
  // Advances the flows whose jobs `change` ended (and those ends' own
  // consequences), locking their rows in id order. Called by commit_on()
  // before the change is written, so every change of a job takes it.
  void advance_flows(PgConnection& c, PgChange& change);
  // Adds their flows' inputs to the leased jobs of flows.
  void add_flow_inputs(PgConnection& c, std::vector<JobView>& leased);
  // Deletes the flows (and their timelines) finished `retention` ago, in
  // batches, each its own transaction; returns when the next one is due.
  std::optional<Millis> purge_flows(PgConnection& c, Millis now);
  FlowView read_flow_view(PgConnection& c, const FlowRecord& f);
  // The same for many flows, with one query for all their jobs.
  std::vector<FlowView> read_flow_views(PgConnection& c,
                                        const std::vector<const FlowRecord*>& flows);

  // Long polls (lease_or_park). A parked request claims again whenever its
  // queues may have gained ready jobs; see wake_parked().
  struct Parked {
    std::uint64_t ticket;
    LeaseSpec spec;
    Callback<std::vector<JobView>> done;
    bool claiming = false;   // a claim for it is running
    bool again = false;      // its queues gained jobs while it claimed
    bool withdrawn = false;  // unpark() came while it claimed
    // EmptyQueues::claim_started() of its claim; none for a hand-off.
    std::optional<std::uint64_t> claim_started;
  };
  // Starts a claim for `p`. REQUIRES: parked_mutex_ held, !p.claiming.
  void claim(Parked& p);
  void claimed(std::uint64_t ticket, Result<std::vector<JobView>> jobs);
  // Jobs of `queue` may be ready: the oldest idle parked request for it
  // claims (one; a claim that fills up passes the wake on).
  void wake_parked(const std::string& queue);
  // The sweep: every queue someone is parked on. Forgets which queues are
  // known empty.
  void wake_all_parked();
  // Whether every change is heard now (the listening connection is up):
  // what this server may know from what it hears (unfinished_, empty_queues_).
  void hearing_changes(bool heard);

  // pg_background.cpp
  void listen_loop();
  void stop_listening();
  void on_notification(std::string_view payload);
  // Another server's state changes: its waiters, and the cluster feed.
  void on_remote_changes(std::string_view list);
  void sweep_loop();
  // Makes the sweep run by `at` (a timer this instance just set).
  void sweep_by(Millis at);
  // Applies every due timer; returns when the next one is due, if any.
  std::optional<Millis> run_timers(PgConnection& c, Millis now);
  void compact_counts(PgConnection& c);
  // Writes when workers asked this server for which queues (at most every
  // kShareActivityEveryMs), for explain() on the others. Sweeper thread only.
  void share_activity(PgConnection& c, Millis now);
  static constexpr Millis kShareActivityEveryMs = 1000;
  Millis activity_shared_at_ = 0;  // sweeper thread only

  const PostgresOptions options_;
  const std::string instance_;
  PgSessionSetup setup_;
  PgPool pool_;
  ChangeFeed change_feed_;
  ChangeFeed cluster_feed_;  // change_feed_'s, and other servers' from their notifications
  CommitFeed commit_feed_;
  WaiterRegistry waiters_;
  UnfinishedJobs unfinished_{kKnownUnfinished};
  EndedJobs ended_{kKnownEnded, kKnownEndedBytes};
  LeasedRows leased_{kKnownLeased, kKnownLeasedBytes};
  KnownQueues known_queues_{kKnownQueues};
  WorkerActivity activity_;
  std::atomic<bool> healthy_{true};
  std::atomic<bool> stopping_{false};

  std::mutex ids_mutex_;
  UuidV7Generator ids_;  // GUARDED_BY(ids_mutex_)
  std::mt19937_64 rng_;  // GUARDED_BY(ids_mutex_)

  OpGroups<PendingSubmit> submits_{kGroupsRunning, kMaxSubmitGroup};
  OpGroups<PendingAck> acks_{kGroupsRunning, kMaxAckGroup};

  std::mutex parked_mutex_;
  std::list<Parked> parked_;       // GUARDED_BY(parked_mutex_), oldest first
  std::uint64_t next_ticket_ = 1;  // GUARDED_BY(parked_mutex_)
  EmptyQueues empty_queues_;       // GUARDED_BY(parked_mutex_)

  std::mutex sweep_mutex_;
  std::condition_variable sweep_wake_;
  Millis next_sweep_at_ = 0;  // GUARDED_BY(sweep_mutex_)
  int stop_fd_ = -1;          // an eventfd: the listener's poll() wakes on shutdown
  std::thread listener_;
  std::thread sweeper_;
};

template <typename T>
Result<T> PostgresBroker::commit_on(PgConnection& c, const Body<T>& body) {
  PgChange change;
  const auto started = std::chrono::steady_clock::now();
  PgTransaction tx(c);
  Result<T> out = body(c, change);
  if (!out.is_ok()) return out;  // rolls back
  // The flows of the jobs it ended move in this transaction (pg_flows.cpp).
  if (!change.flow_step_ends().empty()) advance_flows(c, change);
  change.write(c, instance_);
  // The rows it leases are the version its transaction id wrote.
  PgResult xid;
  if (!change.leased_rows().empty()) {
    c.defer("transaction_id", "SELECT pg_current_xact_id()::xid", {}, &xid);
  }
  tx.commit();
  healthy_ = true;
  for (auto& row : change.leased_rows()) {
    if (xid.rows() != 1) break;
    row.xmin = std::string(xid.text(0, 0));
    leased_.put(std::move(row));
  }
  if (change.empty()) return out;  // a read, or a sweep that found nothing due
  const CommitStats stats{
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 1};
  commit_feed_.publish({&stats, 1});
  change.publish(waiters_, unfinished_, ended_, change_feed_, cluster_feed_);
  for (const auto& [queue, n] : change.ready_queues()) wake_parked(queue);
  if (const auto at = change.earliest_timer()) sweep_by(*at);
  return out;
}

template <typename T>
Result<T> PostgresBroker::run_transaction(PgSession& session, const Body<T>& body) {
  for (int tries = 1;; ++tries) {
    try {
      return commit_on(session.connection(), body);
    } catch (const PgError& e) {
      if (e.connection_lost()) session.drop();
      // Something not as read: the next try reads it (ack_jobs, admit).
      if (changed_since_read(e)) known_queues_.clear();
      if ((e.retryable() || key_taken(e) || changed_since_read(e)) && tries < kTransactionTries) {
        continue;
      }
      return failure(e);
    }
  }
}

}  // namespace errand::postgres::detail
