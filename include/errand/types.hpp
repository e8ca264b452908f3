// Plain values exchanged with an errand server: jobs, leased jobs, queues and
// timeline events. JSON values (payloads, results, errors, whole documents)
// are carried as JSON text in std::string, so this API ties you to no JSON
// library: parse them with the one you already use.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace errand {
// The public API lives in errand::v1, spelled errand::Job and so on. The
// inline namespace gives its symbols names of their own: the server's
// internal types share some of these names (errand::JobPage...) and a binary
// that links both (the errand binary links this library for its client
// commands) would otherwise merge their inline functions, an ODR violation.
inline namespace v1 {

// A job as the server answers it (SPEC section 1 lists every field).
struct Job {
  std::string id;
  std::string queue;
  std::string state;  // scheduled | queued | running | succeeded | failed | cancelled | expired
  int attempt = 0;
  int max_attempts = 0;
  bool cancel_requested = false;
  std::string payload;                  // JSON text
  std::optional<std::string> result;    // JSON text, once succeeded
  std::optional<std::string> error;     // JSON text {"message","type","detail",...}, once failed
  std::optional<std::string> progress;  // JSON text {"percent","message","data"}
  std::string json;                     // the whole document as the server sent it

  // succeeded, failed, cancelled or expired: the job will not change again.
  [[nodiscard]] bool terminal() const;
};

// How a failed attempt is retried (SPEC section 1): the delay before attempt
// n+1 is min(max_ms, initial_ms * multiplier^(n-1)), give or take `jitter`.
// Unset fields take the server's defaults.
struct BackoffPolicy {
  std::optional<std::int64_t> initial_ms;
  std::optional<double> multiplier;
  std::optional<std::int64_t> max_ms;
  std::optional<double> jitter;  // 0..1, relative
};

// What a submit may set besides the payload. Unset fields take the server's defaults.
struct SubmitOptions {
  std::optional<int> priority;
  std::optional<std::int64_t> delay_ms;
  std::optional<std::string> run_at;  // RFC 3339; excludes delay_ms
  std::optional<int> max_attempts;
  std::optional<BackoffPolicy> backoff;
  std::optional<std::int64_t> lease_ms;
  std::optional<std::int64_t> ttl_ms;
  std::optional<std::string> idempotency_key;
  std::vector<std::string> tags;
  std::optional<std::string> traceparent;  // W3C Trace Context, handed to the worker
  // Hold the answer until the job is terminal or this many seconds passed
  // (Prefer: wait). Unset: answer at once with the queued job.
  std::optional<double> wait_seconds;
};

// One entry of a batch submit.
struct BatchJob {
  std::string payload;    // JSON text
  SubmitOptions options;  // wait_seconds and traceparent are ignored in a batch
};

// The answer for one job of a batch, in the order submitted.
struct BatchEntry {
  std::string id;
  std::string state;
};

// A page of `GET /v1/jobs`, newest first.
struct JobPage {
  std::vector<Job> jobs;
  std::optional<std::string> next;  // cursor for the following page
};

struct JobFilter {
  std::optional<std::string> queue;
  std::optional<std::string> state;
  std::optional<int> limit;  // server default 50, at most 1000
  std::optional<std::string> cursor;
};

// A queue's counters as `GET /v1/queues` answers them.
struct Queue {
  std::string name;
  bool paused = false;
  std::map<std::string, std::int64_t> counts;  // by state
  std::int64_t oldest_queued_ms = 0;
  std::int64_t enqueued_total = 0;
  std::int64_t succeeded_total = 0;
  std::int64_t failed_total = 0;
  std::string json;  // the whole document
};

// One entry of a job's timeline (also what the SSE stream delivers).
struct Event {
  std::int64_t seq = 0;  // the SSE id; resume after it with Last-Event-ID
  std::string type;      // enqueued, leased, progress, failed_attempt, succeeded, ...
  std::string json;      // the event's data as JSON text
};

// The flow a leased job belongs to (docs/api.md, "Flows"): the job runs one
// of the flow's steps, or undoes one (a compensation).
struct JobFlow {
  std::string id;             // the flow's id: GET /v1/flows/{id}
  std::string step;           // the step this job runs, or the step it undoes
  bool compensating = false;  // true: the job is the compensation of `step`
  // JSON object text, never empty. For a step: the result of each step it
  // comes after, by name ({} for a step without `after`). For a
  // compensation: {"<step>": <the result of the step it undoes>}.
  std::string inputs_json = "{}";
};

// A job handed to a worker by a lease.
struct LeasedJob {
  std::string id;
  std::string queue;
  std::string payload;  // JSON text
  int attempt = 0;
  int max_attempts = 0;
  std::string lease;  // the fencing token: only it may ack, fail or heartbeat
  std::string lease_expires_at;
  std::optional<std::string> deadline;
  std::optional<std::string> traceparent;
  std::vector<std::string> tags;
  std::optional<JobFlow> flow;  // set for the jobs of a flow
  std::string json;             // the whole entry
};

// One step of a flow document.
struct FlowStep {
  std::string name;
  std::string queue;
  // pending (waits for its `after` steps), skipped (never started), or the
  // state of its job: queued, scheduled, running, succeeded, failed...
  std::string state;
  std::optional<std::string> job;     // its job's id, once it started
  std::optional<std::string> result;  // JSON text, once it succeeded
  std::optional<std::string> error;   // JSON text, once its job failed
  // For a step that declared `compensate`, once its compensation job exists:
  // that job's id and state.
  std::optional<std::string> compensation_job;
  std::optional<std::string> compensation_state;
};

// A flow as the server answers it (docs/api.md, "The flow document").
struct Flow {
  std::string id;
  std::string name;
  std::string state;            // running | compensating | succeeded | failed | cancelled
  std::vector<FlowStep> steps;  // in the order they were submitted
  // JSON text {"<sink step>": <its result>, ...}, once the flow succeeded.
  std::optional<std::string> result;
  // JSON text {"step","message","type"}, once the flow failed.
  std::optional<std::string> error;
  std::string json;  // the whole document as the server sent it

  // succeeded, failed or cancelled: the flow will not change again.
  [[nodiscard]] bool terminal() const;
};

// What a flow submit may set besides its body (the flow's idempotency_key
// and ttl_ms are members of the body).
struct FlowSubmitOptions {
  std::optional<std::string> traceparent;  // W3C Trace Context, carried by every step job
  // Hold the answer until the flow is terminal or this many seconds passed
  // (Prefer: wait). Unset: answer at once with the running flow.
  std::optional<double> wait_seconds;
};

struct LeaseRequest {
  std::vector<std::string> queues;  // strict priority, in this order
  std::string worker;               // shown on the job and the dashboard
  int max = 1;
  std::optional<std::int64_t> lease_ms;
  std::optional<double> wait_seconds;  // long poll
};

// How an attempt failed, for Client::fail.
struct FailRequest {
  std::string message;
  std::string type;  // e.g. "timeout", "declined"; empty = "error"
  std::string detail;
  bool retry = true;  // false: fail terminally now
  std::optional<std::int64_t> retry_in_ms;
};

struct FailOutcome {
  std::string state;                  // scheduled | queued | failed | cancelled
  std::optional<std::string> run_at;  // when scheduled for a retry
};

struct Progress {
  int percent = 0;  // 0..100
  std::string message;
  std::optional<std::string> data;  // JSON text
};

struct HeartbeatOutcome {
  std::string lease_expires_at;
  bool cancel_requested = false;
};

// The outcome of one entry of Client::ack_many.
struct AckOutcome {
  std::string id;
  bool ok = false;
  int status = 0;  // HTTP status of the failure (409: lease lost)
  std::string detail;
};

struct Ack {
  std::string id;
  std::string lease;
  std::string result;  // JSON text
};

}  // namespace v1
}  // namespace errand
