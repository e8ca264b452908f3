// The job record: everything errand knows about a job except its payload,
// its result and its timeline, which are larger and kept only in the store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/job_id.hpp"
#include "core/job_state.hpp"
#include "core/retry_policy.hpp"
#include "core/time.hpp"

namespace errand {

inline constexpr int kDefaultMaxAttempts = 5;
inline constexpr std::int64_t kDefaultLeaseMs = 30'000;
inline constexpr std::size_t kTimelineLimit = 200;  // events kept per job

struct JobError {
  std::string message;
  std::string type;
  std::string detail;
  int attempt = 0;
};

// The flow a job belongs to: one of its steps, or the compensation of one.
struct FlowRef {
  JobId id;
  std::string step;
  bool compensating = false;
  bool operator==(const FlowRef&) const = default;
};

struct JobRecord {
  JobId id;
  std::string queue;
  JobState state = JobState::kQueued;
  int priority = 0;
  int attempt = 0;  // deliveries so far; 1 once first leased
  int max_attempts = kDefaultMaxAttempts;
  Backoff backoff;
  std::int64_t lease_ms = kDefaultLeaseMs;          // what a lease grants unless the worker asks
  std::int64_t granted_lease_ms = kDefaultLeaseMs;  // what the current lease granted
  Millis created_at = 0;
  Millis run_at = 0;  // when it runs (scheduled) or became ready (otherwise)
  std::optional<Millis> started_at;
  std::optional<Millis> finished_at;
  std::optional<Millis> lease_expires_at;
  std::optional<Millis> deadline;
  std::string worker;       // empty when never leased
  std::string lease_token;  // empty unless running
  std::optional<JobError> error;
  std::string progress_json;  // {"percent","message","data"}, empty when none
  bool cancel_requested = false;
  std::string idempotency_key;  // empty when none
  std::vector<std::string> tags;
  std::string traceparent;
  std::uint64_t payload_hash = 0;  // tells an idempotent replay from a conflict
  std::uint32_t timeline_seq = 0;  // seq of the last timeline event
  // The current attempt's "leased" event is not written yet: it follows
  // from this record (a store that derives it, engine/timeline.hpp). Set
  // by a lease; cleared when the event is written, before any other event.
  bool leased_event_unwritten = false;
  std::optional<FlowRef> flow;
};

// One entry of a job's timeline. `json` is the whole event object as sent to
// clients: {"seq":N,"at":"...","type":"...", ...fields of its kind}.
struct TimelineEvent {
  std::uint32_t seq = 0;
  std::string type;
  std::string json;
};

}  // namespace errand
