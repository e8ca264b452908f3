// What each change of a job does to its record and which timeline events it
// leaves (SPEC §1–3), written once for every store. A store finds and locks
// the record its own way (memory and RocksDB, or a row FOR UPDATE), calls
// one of these, and writes the record and what `JobChanges` collected in one
// durable write.
//
// Pure: no I/O, no clock, no randomness of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/job.hpp"
#include "core/status.hpp"
#include "engine/broker.hpp"
#include "engine/submit_spec.hpp"

namespace errand {

// Where a transition reports what a store must write and publish besides
// the record: timeline events, state changes (the change feed and flows),
// and queues that gained ready jobs (parked leases).
class JobChanges {
 public:
  // Appends the next timeline event of `r` (bumps r.timeline_seq).
  virtual void event(JobRecord& r, Millis at, std::string_view type,
                     std::string_view fields = {}) = 0;
  // Appends new job `r`'s first event (enqueued_event(r), seq 1). A store
  // that derives it from the record when read only counts it.
  virtual void enqueued(JobRecord& r);
  // Appends acked job `r`'s last event (succeeded_event(r)), the same way.
  virtual void succeeded(JobRecord& r);
  // Appends just-leased job `r`'s event (leased_event(r)). A store that
  // derives it only counts it and sets r.leased_event_unwritten; it writes
  // it as the job's next event() comes, unless that is succeeded().
  virtual void leased(JobRecord& r);
  // `r` moved from `from` (nullopt: it is new) to its current state.
  virtual void moved(const JobRecord& r, std::optional<JobState> from, Millis at) = 0;
  // `n` jobs of `queue` became ready.
  virtual void ready(const std::string& queue, std::size_t n = 1) = 0;

 protected:
  ~JobChanges() = default;
};

// A new job from `s` (its payload stays in `s`), queued or scheduled.
JobRecord new_job(const SubmitSpec& s, const JobId& id, Millis now, JobChanges& c);
// Queued → running under a new lease. REQUIRES: r.state == queued.
void lease_job(JobRecord& r, std::string_view worker, std::string token, std::int64_t lease_ms,
               Millis now, JobChanges& c);
// Running → succeeded. REQUIRES: r.state == running.
void ack_job(JobRecord& r, Millis now, JobChanges& c);
// A failed attempt (worker fail or lease expiry): retried (queued or
// scheduled after a backoff drawn with `unit_random`), failed, or cancelled
// when its cancellation was asked for. REQUIRES: r.state == running.
FailOutcome fail_attempt(JobRecord& r, JobError error, bool retry,
                         std::optional<std::int64_t> retry_in_ms, double unit_random, Millis now,
                         JobChanges& c);
// Renews the lease; records progress when given. REQUIRES: r.state == running.
HeartbeatOutcome heartbeat_job(JobRecord& r, std::optional<std::int64_t> lease_ms,
                               const std::string& progress_json, Millis now, JobChanges& c);
// Cancels a queued or scheduled job; asks a running one to stop.
// REQUIRES: r not terminal.
void cancel_job(JobRecord& r, Millis now, JobChanges& c);
// An operator's retry of a failed, cancelled or expired job: queued afresh.
// REQUIRES: next_state(r.state, kAdminRetry).
void retry_job(JobRecord& r, Millis now, JobChanges& c);
// Past its deadline before it ran. REQUIRES: r queued or scheduled, r.deadline.
void expire_job(JobRecord& r, Millis now, JobChanges& c);
// A scheduled job's run_at came. REQUIRES: r.state == scheduled.
void activate_job(JobRecord& r, Millis now, JobChanges& c);
// A new lease's token: 32 random hex digits.
std::string lease_token(std::mt19937_64& rng);
// The error of an attempt whose lease ran out.
JobError lease_expired_error(const JobRecord& r);

// The answers every store gives when a change is refused.
Status job_not_found(const JobId& id);
Status lease_lost(const JobId& id);
// kConflict when `r` cannot be cancelled, retried or deleted now; else ok.
Status check_cancel(const JobRecord& r);
Status check_retry(const JobRecord& r);
Status check_discard(const JobRecord& r);

}  // namespace errand
