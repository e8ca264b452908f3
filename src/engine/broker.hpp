// Broker: the queue semantics of SPEC §1–3 as one backend-neutral interface.
//
// The embedded store (store/embedded) implements it today; a PostgreSQL store
// will later. Every operation is asynchronous: it calls `done` exactly once,
// from any thread, after the change is durable (for writes) or the answer is
// read (for reads). Operations map onto single SQL statements or RocksDB
// write batches, so both backends can keep the same contract.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/job.hpp"
#include "core/status.hpp"
#include "engine/change_feed.hpp"
#include "engine/flow.hpp"
#include "engine/submit_spec.hpp"
#include "engine/waiting_on.hpp"

namespace errand {

class WaiterRegistry;

template <typename T>
using Callback = std::function<void(Result<T>)>;

struct Empty {};

// A job with its payload and result: what GET /v1/jobs/{id} shows.
struct JobView {
  JobRecord record;
  std::string payload_json;
  std::string result_json;  // empty when there is no result
  // Why it is not finished yet (engine/waiting_on.hpp): set by get, list,
  // submit, cancel and retry for a job that is not terminal.
  std::optional<WaitingOn> waiting_on;
  // Set by lease for a step of a flow: its inputs.
  std::optional<LeasedFlow> flow;
};

struct SubmitOutcome {
  JobView job;
  bool replayed = false;  // an idempotency key matched an existing job
};

struct LeaseSpec {
  std::vector<std::string> queues;  // strict priority: earlier queues first
  std::string worker;
  int max = 1;
  std::optional<std::int64_t> lease_ms;  // overrides the jobs' own lease_ms
};

struct AckSpec {
  JobId id;
  std::string lease;
  std::string result_json;  // "null" when the worker sent none
};

struct FailSpec {
  JobId id;
  std::string lease;
  JobError error;  // attempt is filled in by the broker
  bool retry = true;
  std::optional<std::int64_t> retry_in_ms;
};

struct FailOutcome {
  JobState state;
  std::optional<Millis> run_at;  // set when the job will run again
};

struct HeartbeatSpec {
  JobId id;
  std::string lease;
  std::optional<std::int64_t> lease_ms;
  std::string progress_json;  // normalised {"percent","message","data"}; empty: none
};

struct HeartbeatOutcome {
  Millis lease_expires_at;
  bool cancel_requested;
};

struct QueueStats {
  std::string name;
  bool paused = false;
  // Admission limit: beyond this many queued + scheduled jobs, submits are
  // refused (429). nullopt: no limit.
  std::optional<std::int64_t> max_queued;
  std::int64_t counts[kJobStateCount] = {};
  std::optional<std::int64_t> oldest_queued_ms;
  std::int64_t enqueued_total = 0;
  std::int64_t succeeded_total = 0;
  std::int64_t failed_total = 0;
  // When a lease request for the queue last started or ended (nullopt: none
  // since the server started), and whether one is open now (a long poll).
  std::optional<Millis> last_lease_request_at;
  bool asking_now = false;
};

// A change of a queue's settings (PUT /v1/queues/{queue}): a field that is
// nullopt stays as it is.
struct QueueSettingsChange {
  // 0 removes the limit.
  std::optional<std::int64_t> max_queued;
};

struct ListSpec {
  std::optional<std::string> queue;
  std::optional<JobState> state;
  int limit = 50;
  std::optional<JobId> before;  // cursor: only jobs older than this id
};

struct JobPage {
  std::vector<JobView> jobs;  // newest first
  std::optional<JobId> next;  // cursor for the following page
};

class Broker {
 public:
  virtual ~Broker() = default;

  // All or nothing: either every job is stored (or replayed) or none is. A
  // queue at its max_queued refuses the whole batch (kResourceExhausted);
  // idempotent replays add no job and pass.
  virtual void submit(std::vector<SubmitSpec> jobs, Callback<std::vector<SubmitOutcome>> done) = 0;
  // Leases up to spec.max ready jobs; an empty list when none is ready. Does
  // not wait.
  virtual void lease(LeaseSpec spec, Callback<std::vector<JobView>> done) = 0;
  // A long poll's lease: like lease() when jobs are ready; otherwise the
  // request is parked and `done` runs once jobs of its queues become ready,
  // leased to it (by the embedded store in the same durable write that made
  // them ready: a submit to a waiting worker costs one write, not two).
  // Returns the ticket to unpark() with, or 0 when it did not park (`done`
  // runs or ran). A store that must ask its database whether jobs are ready
  // parks first and may answer at once.
  virtual std::uint64_t lease_or_park(LeaseSpec spec, Callback<std::vector<JobView>> done) = 0;
  // Withdraws a parked request (its wait is over). True: `done` will never
  // run. False: `done` runs or ran, with the jobs leased to it meanwhile or
  // (a store that was looking for jobs for it just then) with none.
  virtual bool unpark(std::uint64_t ticket) = 0;
  virtual void ack(AckSpec spec, Callback<JobState> done) = 0;
  // Acks every job of `specs`: `done` gets each ack's outcome, in order (ok
  // or why it was refused: a lost lease refuses that ack alone), or the
  // error that failed them all. A store may write them as one change; by
  // default they are ack()s, sent together but for a job acked again in the
  // batch, whose later ack waits for its earlier one.
  virtual void ack_all(std::vector<AckSpec> specs, Callback<std::vector<Status>> done);
  virtual void fail(FailSpec spec, Callback<FailOutcome> done) = 0;
  virtual void heartbeat(HeartbeatSpec spec, Callback<HeartbeatOutcome> done) = 0;
  virtual void cancel(JobId id, Callback<JobView> done) = 0;
  virtual void retry(JobId id, Callback<JobView> done) = 0;
  virtual void discard(JobId id, Callback<Empty> done) = 0;
  virtual void set_paused(std::string queue, bool paused, Callback<QueueStats> done) = 0;
  // Creates the queue when new, like set_paused.
  virtual void configure_queue(std::string queue, QueueSettingsChange change,
                               Callback<QueueStats> done) = 0;

  // Flows (engine/flow.hpp, core/flow.hpp). A submit stores the flow and
  // starts its first steps in one durable write; afterwards every change of a
  // step's job advances the flow in the same write as that change.
  virtual void submit_flow(FlowSpec spec, Callback<FlowSubmitOutcome> done) = 0;
  virtual void get_flow(JobId id, Callback<FlowView> done) = 0;
  // Running or compensating: skips what has not started, cancels the step
  // jobs still running and compensates what succeeded; terminal: 409.
  virtual void cancel_flow(JobId id, Callback<FlowView> done) = 0;
  virtual void list_flows(FlowListSpec spec, Callback<FlowPage> done) = 0;
  // The flow's events with seq > after_seq, oldest first (docs/api.md).
  virtual void flow_timeline(JobId id, std::uint32_t after_seq,
                             Callback<std::vector<TimelineEvent>> done) = 0;

  virtual void get(JobId id, Callback<JobView> done) = 0;
  // True when the broker knows, without reading its store, that job `id` is
  // not terminal now; false when it is terminal, gone, or the broker cannot
  // tell cheaply. A hint for waiters, which skip a get() that could not end
  // their wait: a wait ends on a durable terminal state, which notifies.
  virtual bool known_unfinished(const JobId&) { return false; }
  // The job as a commit on this broker just ended it, if the broker kept
  // that (a hint as cheap as known_unfinished): a waiter for the job's end
  // may answer with it instead of a get(). Nullopt: get() it.
  virtual std::optional<JobView> ended_view(const JobId&) { return std::nullopt; }
  // Timeline events with seq > after_seq, oldest first.
  virtual void timeline(JobId id, std::uint32_t after_seq,
                        Callback<std::vector<TimelineEvent>> done) = 0;
  virtual void list(ListSpec spec, Callback<JobPage> done) = 0;
  virtual void queues(Callback<std::vector<QueueStats>> done) = 0;
  virtual void queue(std::string name, Callback<QueueStats> done) = 0;

  // Who is waiting on what. The broker notifies job_topic(id) after every
  // durable change of a job, flow_topic(id) of a flow, and queue_topic(q)
  // when jobs become ready in q.
  virtual WaiterRegistry& waiters() = 0;
  // A worker's lease request for `queues` is open from lease_request_started()
  // to lease_request_ended() (a long poll: its whole wait), so the queues count
  // as asked for (waiting_on `no_workers`). A lease() call counts by itself.
  virtual void lease_request_started(const std::vector<std::string>& queues) = 0;
  virtual void lease_request_ended(const std::vector<std::string>& queues) = 0;
  // Every job state change, published once durable and before the callback
  // of the call that made it (engine/change_feed.hpp).
  virtual ChangeFeed& changes() = 0;
  // The same, and the changes other servers on the same store made (a shared
  // PostgreSQL), as they hear of them: what GET /v1/events streams. Metrics,
  // logs, alerts and tracing follow changes() only, so that each change is
  // counted once, by the server that made it. Only `id`, `queue`, `from`,
  // `to` and `at` are set for another server's change.
  virtual ChangeFeed& cluster_changes() { return changes(); }
  // Every group commit's write time and size.
  virtual CommitFeed& commits() = 0;
  // False once the store cannot write (disk failure): /readyz reports it.
  virtual bool healthy() const = 0;
  // Finishes pending writes and stops background work. Idempotent.
  virtual void shutdown() = 0;
};

}  // namespace errand
