// The embedded Broker's insides, shared by the files that implement it:
// embedded_broker.cpp (jobs) and flows.cpp (flows). Not a public header: only
// store/embedded includes it; everyone else uses open_embedded_broker().
#pragma once

#include <algorithm>
#include <atomic>
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
#include "store/embedded/embedded_broker.hpp"
#include "store/embedded/flow_book.hpp"
#include "store/embedded/group_commit.hpp"
#include "store/embedded/job_index.hpp"
#include "store/embedded/record_codec.hpp"
#include "store/embedded/store_db.hpp"

namespace errand::embedded::detail {

// Column families, one per kind of record (docs/storage-format.md).
enum Cf { kJobs, kPayloads, kResults, kTimeline, kQueues, kFlows, kCfCount };
inline const char* const kCfNames[kCfCount] = {"jobs",     "payloads", "results",
                                               "timeline", "queues",   "flows"};

inline Status stopped() { return unavailable("the store is shut down"); }

// How many jobs ended_view() remembers (engine/ended_jobs.hpp), and their
// bytes (records and results: the embedded store keeps no payload there).
// A view is read within moments of its ack, by waiters it woke; at ~800
// bytes a view, 1 MiB holds the last ~1,300 ends, 0.1 s at 12,000 a
// second. More would only hold memory: with 4 MiB, 10 000 open waits
// (W4) took 4 MiB more.
inline constexpr std::size_t kKnownEnded = 2'000;
inline constexpr std::size_t kKnownEndedBytes = 1 << 20;

// The writes and notifications of one change, applied together once the
// change is durable.
class Change final : public JobChanges {
 public:
  void put(Cf cf, std::string key, std::string value) {
    puts_.push_back({cf, std::move(key), std::move(value)});
  }
  void del(Cf cf, std::string key) { dels_.push_back({cf, std::move(key)}); }
  // A job put twice in one change (submitted and handed to a parked lease at
  // once) is written once: the second replaces the first, a few puts back.
  void put_job(const JobRecord& r) {
    std::string key(r.id.raw());
    const std::size_t window = std::min<std::size_t>(puts_.size(), 8);
    for (auto it = puts_.rbegin(); it != puts_.rbegin() + static_cast<std::ptrdiff_t>(window);
         ++it) {
      if (it->cf == kJobs && it->key == key) return void(it->value = encode_job(r));
    }
    put(kJobs, std::move(key), encode_job(r));
  }
  // A queue's settings and totals: only its last value in a group commit is
  // written (GroupCommitter::LastPut).
  void put_queue(const QueueState& q) {
    for (auto& p : queues_) {
      if (p.first == q.name) return void(p.second = encode_queue(q));
    }
    queues_.emplace_back(q.name, encode_queue(q));
  }
  void event(JobRecord& r, Millis at, std::string_view type,
             std::string_view fields = {}) override {
    if (r.leased_event_unwritten) {
      // Another event follows the lease's: the record will not show that
      // one any more, so it is written now, where it belongs.
      r.leased_event_unwritten = false;
      put(kTimeline, timeline_key(r.id, r.timeline_seq), leased_event(r).json);
    }
    TimelineEvent ev = next_event(r, at, type, fields);
    put(kTimeline, timeline_key(r.id, ev.seq), std::move(ev.json));
    counted(r);
  }
  // A job's "enqueued", "leased" and "succeeded" events are not written
  // while they follow from the record (engine/timeline.hpp), and
  // EmbeddedBroker::timeline derives them: a memtable insert less each.
  void enqueued(JobRecord& r) override {
    ++r.timeline_seq;
    counted(r);
  }
  void leased(JobRecord& r) override {
    ++r.timeline_seq;
    r.leased_event_unwritten = true;
    counted(r);
  }
  void succeeded(JobRecord& r) override {
    ++r.timeline_seq;
    counted(r);
  }
  // Event r.timeline_seq was added: the one kTimelineLimit before it goes.
  void counted(const JobRecord& r) {
    if (r.timeline_seq > kTimelineLimit) {
      del(kTimeline, timeline_key(r.id, r.timeline_seq - kTimelineLimit));
    }
    touched(r.id);
  }
  // A flow's record and timeline go (the jobs it made have their own retention).
  void purge_flow(const JobId& id) {
    dels_.push_back({kFlows, std::string(id.raw())});
    ranges_.push_back({timeline_key(id, 0), timeline_key(id, 0xffffffffu)});
    job_topics_.push_back(flow_topic(id));
  }
  void purge(const JobId& id) {
    const std::string raw(id.raw());
    dels_.push_back({kJobs, raw});
    dels_.push_back({kPayloads, raw});
    dels_.push_back({kResults, raw});
    ranges_.push_back({timeline_key(id, 0), timeline_key(id, 0xffffffffu)});
    touched(id);
  }
  void touched(const JobId& id) {
    job_topics_.push_back(job_topic(id));
    touched_jobs_.push_back(id);
  }
  // A job's view as this change ends it, put in EndedJobs (its token).
  void ended(const JobId& id, std::uint64_t token) { ended_puts_.emplace_back(id, token); }
  void put_flow(const FlowRecord& f) {
    put(kFlows, std::string(f.id.raw()), encode_flow(f));
    job_topics_.push_back(flow_topic(f.id));
  }
  void flow_event(FlowRecord& f, Millis at, std::string_view type, std::string_view fields = {}) {
    TimelineEvent ev = next_event(f.timeline_seq, at, type, fields);
    put(kTimeline, timeline_key(f.id, ev.seq), std::move(ev.json));
    if (ev.seq > kTimelineLimit) del(kTimeline, timeline_key(f.id, ev.seq - kTimelineLimit));
  }
  // The value this change puts at `key` of `cf`; empty when it puts none.
  std::string value_of(Cf cf, const std::string& key) const {
    for (auto it = puts_.rbegin(); it != puts_.rend(); ++it) {
      if (it->cf == cf && it->key == key) return it->value;
    }
    return {};
  }
  // The state changes so far, in order (flows advance on them).
  const std::vector<StateChange>& state_changes() const { return changes_; }
  // `r` moved from `from` (empty: it is new) to its current state.
  void moved(const JobRecord& r, std::optional<JobState> from, Millis at) override {
    changes_.push_back(state_change(r, from, r.state, at));
  }
  // `r` is about to be removed from the store.
  void removed(const JobRecord& r, Millis at) {
    changes_.push_back(state_change(r, r.state, std::nullopt, at));
  }
  void ready(const std::string& queue, std::size_t n = 1) override {
    ready_.emplace_back(queue, n);
  }
  // Whether this change made jobs of `queue` ready.
  bool made_ready(const std::string& queue) const {
    for (const auto& r : ready_) {
      if (r.first == queue) return true;
    }
    return false;
  }
  bool made_any_ready() const { return !ready_.empty(); }
  bool empty() const {
    return puts_.empty() && dels_.empty() && ranges_.empty() && queues_.empty();
  }

  void fill(rocksdb::WriteBatch& wb, rocksdb::ColumnFamilyHandle* const* cfs) const {
    for (const auto& p : puts_) wb.Put(cfs[p.cf], p.key, p.value);
    for (const auto& d : dels_) wb.Delete(cfs[d.cf], d.key);
    for (const auto& r : ranges_) wb.DeleteRange(cfs[kTimeline], r.first, r.second);
  }
  // The queue records, for the group commit to write once a group. Moves
  // them out: call once, when appending.
  std::vector<GroupCommitter::LastPut> take_last_puts(rocksdb::ColumnFamilyHandle* const* cfs) {
    std::vector<GroupCommitter::LastPut> last;
    last.reserve(queues_.size());
    for (auto& [name, value] : queues_) last.push_back({cfs[kQueues], name, std::move(value)});
    queues_.clear();
    return last;
  }
  void publish(WaiterRegistry& waiters, const ChangeFeed& feed, EndedJobs& ended) const {
    // Before the waiters wake: what `ended` shows of a job this change
    // touched is either this change's own view of it or out of date.
    for (const auto& id : touched_jobs_) {
      const bool put = std::any_of(ended_puts_.begin(), ended_puts_.end(),
                                   [&](const auto& e) { return e.first == id; });
      if (!put) ended.forget(id);
    }
    for (const auto& [id, token] : ended_puts_) ended.show(id, token);
    feed.publish(changes_);
    for (const auto& t : job_topics_) waiters.notify_all(t);
    for (const auto& [q, n] : ready_) waiters.notify_some(queue_topic(q), n);
  }

 private:
  struct Put {
    Cf cf;
    std::string key, value;
  };
  struct Del {
    Cf cf;
    std::string key;
  };
  std::vector<Put> puts_;
  std::vector<Del> dels_;
  std::vector<std::pair<std::string, std::string>> queues_;  // name, record
  std::vector<std::pair<std::string, std::string>> ranges_;
  std::vector<std::string> job_topics_;
  std::vector<JobId> touched_jobs_;
  std::vector<std::pair<JobId, std::uint64_t>> ended_puts_;
  std::vector<std::pair<std::string, std::size_t>> ready_;
  std::vector<StateChange> changes_;
};

// The broker's mutex. Releasing it settles the job index (JobIndex::settle),
// so the records a locked section decoded go back to rest as it ends and no
// JobRecord* outlives the section that found it. So build what an answer
// needs from a record before unlocking: in `return lock.unlock(), done(f(r))`
// f(r) reads freed memory.
class IndexMutex {
 public:
  explicit IndexMutex(JobIndex& index) : index_(index) {}
  void lock() { mutex_.lock(); }
  bool try_lock() { return mutex_.try_lock(); }
  void unlock() {
    index_.settle();
    mutex_.unlock();
  }

 private:
  JobIndex& index_;
  std::mutex mutex_;
};

class EmbeddedBroker final : public Broker {
 public:
  EmbeddedBroker(const EmbeddedOptions& options, std::unique_ptr<StoreDb> db)
      : options_(options),
        db_(std::move(db)),
        index_(options.retention_ms),
        flows_(options.retention_ms),
        committer_(*db_, options.durability,
                   [this](const CommitStats& st) {
                     commit_feed_.publish({&st, 1});
                   }),
        rng_(std::random_device{}()),
        activity_(now_millis()) {
    ended_.enable();  // every change is made here: none goes unheard
  }

  ~EmbeddedBroker() override { shutdown(); }

  Status recover();
  void start_timers() {
    timer_thread_ = std::thread([this] { run_timers(); });
  }

  void submit(std::vector<SubmitSpec> jobs, Callback<std::vector<SubmitOutcome>> done) override;
  void lease(LeaseSpec spec, Callback<std::vector<JobView>> done) override;
  std::uint64_t lease_or_park(LeaseSpec spec, Callback<std::vector<JobView>> done) override;
  bool unpark(std::uint64_t ticket) override;
  void ack(AckSpec spec, Callback<JobState> done) override;
  void ack_all(std::vector<AckSpec> specs, Callback<std::vector<Status>> done) override;
  void fail(FailSpec spec, Callback<FailOutcome> done) override;
  void heartbeat(HeartbeatSpec spec, Callback<HeartbeatOutcome> done) override;
  void cancel(JobId id, Callback<JobView> done) override;
  void retry(JobId id, Callback<JobView> done) override;
  void discard(JobId id, Callback<Empty> done) override;
  void set_paused(std::string queue, bool paused, Callback<QueueStats> done) override;
  void configure_queue(std::string queue, QueueSettingsChange change,
                       Callback<QueueStats> done) override;
  void get(JobId id, Callback<JobView> done) override { done(read_explained(id)); }
  bool known_unfinished(const JobId& id) override;
  std::optional<JobView> ended_view(const JobId& id) override { return ended_.get(id); }
  void submit_flow(FlowSpec spec, Callback<FlowSubmitOutcome> done) override;
  void get_flow(JobId id, Callback<FlowView> done) override;
  void cancel_flow(JobId id, Callback<FlowView> done) override;
  void list_flows(FlowListSpec spec, Callback<FlowPage> done) override;
  void flow_timeline(JobId id, std::uint32_t after_seq,
                     Callback<std::vector<TimelineEvent>> done) override;
  void timeline(JobId id, std::uint32_t after_seq,
                Callback<std::vector<TimelineEvent>> done) override;
  void list(ListSpec spec, Callback<JobPage> done) override;
  void queues(Callback<std::vector<QueueStats>> done) override;
  void queue(std::string name, Callback<QueueStats> done) override;
  WaiterRegistry& waiters() override { return waiters_; }
  void lease_request_started(const std::vector<std::string>& queues) override {
    activity_.started(queues, now_millis());
  }
  void lease_request_ended(const std::vector<std::string>& queues) override {
    activity_.ended(queues, now_millis());
  }
  ChangeFeed& changes() override { return change_feed_; }
  CommitFeed& commits() override { return commit_feed_; }
  bool healthy() const override { return healthy_.load(); }
  void shutdown() override;

 private:
  // Appends `change` to the group commit; `then` runs once it is durable (or
  // failed). Jobs it makes ready go to parked leases in the same write.
  // REQUIRES: mutex_ held, so that commit order is change order.
  void commit(Change change, std::function<void(const Status&)> then);

  // Leases: what take_ready() decided under mutex_, answered once durable.
  // A leased job of a flow gets the results of the steps it comes after.
  struct Grant {
    std::vector<JobView> jobs;
    std::vector<std::optional<FlowInputs>> inputs;
    Callback<std::vector<JobView>> done;
  };
  struct ParkedLease {
    std::uint64_t ticket;
    LeaseSpec spec;
    Callback<std::vector<JobView>> done;
  };
  // lease() (park false) and lease_or_park() (park true): the ticket of a
  // parked request, else 0.
  std::uint64_t lease_or_wait(LeaseSpec spec, Callback<std::vector<JobView>> done, bool park);
  // Leases up to spec.max ready jobs of spec's queues into `c`.
  // REQUIRES: mutex_ held.
  std::vector<JobView> take_ready(const LeaseSpec& spec, Millis now, Change& c);
  // REQUIRES: mutex_ held.
  Grant make_grant(std::vector<JobView> jobs, Callback<std::vector<JobView>> done);
  // Reads the granted jobs' payloads and flow inputs (written by now) and answers.
  void deliver(Grant& grant, const Status& written);
  // Leases the jobs `c` makes ready to the parked requests, oldest first, in
  // `c`. REQUIRES: mutex_ held.
  std::vector<Grant> hand_off(Change& c, Millis now);
  // Why a write cannot start (shut down, or the store cannot write since a
  // write failed), or ok. REQUIRES: mutex_ held.
  Status write_refused();
  Result<JobView> read_job(const JobId& id);
  // read_job() with its waiting_on. Takes mutex_.
  Result<JobView> read_explained(const JobId& id);
  // Sets v.waiting_on from the queue's state in memory. REQUIRES: mutex_ held.
  void explain(JobView& v, Millis now);
  // The running job `id` if `token` is its current lease, else the error to
  // answer (fencing). REQUIRES: mutex_ held.
  Result<JobRecord*> leased_job(const JobId& id, const std::string& token);
  std::string read_value(Cf cf, const JobId& id);
  // The events of a job's or a flow's timeline after `after_seq`, oldest first.
  std::vector<TimelineEvent> read_timeline(const JobId& id, std::uint32_t after_seq);
  QueueStats stats_of(const QueueState& q, Millis now) const;
  // kResourceExhausted when the new jobs among `specs` (those without an
  // `existing` job) would take a queue past its max_queued. REQUIRES: mutex_.
  Status admit(const std::vector<SubmitSpec>& specs, const std::vector<JobRecord*>& existing);
  std::string new_lease_token();
  double unit_random() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

  // Acks running job `r` into `c`: its state, result and record; returns its
  // queue, whose succeeded_total it counted, for the caller to put_queue().
  // REQUIRES: mutex_ held, r.state == running.
  QueueState& ack_leased(JobRecord& r, std::string result_json, Millis now, Change& c);
  // errand::fail_attempt() on the index, and the queue's failed_total.
  // REQUIRES: mutex_ held, r.state == running.
  FailOutcome fail_attempt(JobRecord& r, JobError error, bool retry,
                           std::optional<std::int64_t> retry_in_ms, Millis now, Change& c);
  void expire(JobRecord& r, Millis now, Change& c);
  // Stores a new job. REQUIRES: mutex_ held; no idempotency replay applies.
  JobRecord& create_job(SubmitSpec&& s, Millis now, Change& c);

  // Flows (flows.cpp; the rules are engine/flow_driver.hpp). A FlowHost on
  // one Change.
  class FlowChange;
  // Advances every flow one of whose jobs reached a terminal state in `c`,
  // adding what that does to `c`. REQUIRES: mutex_ held.
  void advance_flows(Change& c, Millis now);
  // Puts `f` into `c` after a change of it; schedules its purge once it
  // finished. REQUIRES: mutex_ held.
  void flow_changed(const FlowRecord& f, bool was_finished, Change& c);
  // Answers a read of memory once what it read is written. Memory may be a
  // commit ahead of the store, and a read must not show what a crash could
  // still take back (nor miss a result not stored yet). `read` reads memory,
  // taking mutex_, and returns what answers from it.
  void answer_when_written(const std::function<std::function<void()>()>& read);
  // The flow as read, without results (read_flow_results adds them).
  // REQUIRES: mutex_ held.
  FlowView flow_view(const FlowRecord& f);
  void read_flow_results(FlowView& v);
  // REQUIRES: mutex_ held.
  std::optional<FlowInputs> flow_inputs_of(const JobRecord& r);
  void read_flow_inputs(FlowInputs& p);
  Status recover_flows();
  // Replaces the memory state (jobs, queues, flows) by what the store holds.
  // REQUIRES: mutex_ held.
  Status load_from_store();

  // Disk failures (write_recovery.cpp). A failed write stops writing: the
  // memory state is reloaded from the store, which did not take the write,
  // and writes are refused until try_to_write_again() succeeds. Returns what
  // to answer the requests whose write failed. Takes mutex_.
  Status on_write_failed(const Status& failure);
  // Probes the disk and reopens the store; on success writes go on.
  // REQUIRES: `lock` holds mutex_; it is released while the disk is probed.
  void try_to_write_again(std::unique_lock<IndexMutex>& lock);

  void run_timers();
  void wake_timers_if_earlier();
  // The earliest job timer or flow purge. REQUIRES: mutex_ held.
  std::optional<Millis> next_timer_at() const;

  EmbeddedOptions options_;
  std::unique_ptr<StoreDb> db_;
  JobIndex index_;  // GUARDED_BY(mutex_)
  IndexMutex mutex_{index_};
  FlowBook flows_;       // GUARDED_BY(mutex_)
  UuidV7Generator ids_;  // GUARDED_BY(mutex_)
  ChangeFeed change_feed_;
  CommitFeed commit_feed_;  // before committer_, whose writer thread publishes to it
  GroupCommitter committer_;
  std::mt19937_64 rng_;  // GUARDED_BY(mutex_)
  WorkerActivity activity_;
  WaiterRegistry waiters_;
  EndedJobs ended_{kKnownEnded, kKnownEndedBytes};
  std::atomic<bool> healthy_{true};  // false while write_error_ is set
  // Since a write failed: why, when, and how many writes were refused since.
  Status write_error_;                       // GUARDED_BY(mutex_)
  Millis write_error_at_ = 0;                // GUARDED_BY(mutex_)
  std::uint64_t writes_refused_ = 0;         // GUARDED_BY(mutex_)
  std::condition_variable_any timer_wake_;   // waits on mutex_
  std::optional<Millis> timer_sleep_until_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;                    // GUARDED_BY(mutex_)
  // Long polls waiting for jobs, oldest first (few: one per idle worker
  // connection), and the next ticket.
  std::list<ParkedLease> parked_;  // GUARDED_BY(mutex_)
  std::uint64_t next_ticket_ = 1;  // GUARDED_BY(mutex_)
  std::thread timer_thread_;
};

}  // namespace errand::embedded::detail
