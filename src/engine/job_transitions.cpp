#include "engine/job_transitions.hpp"

#include "core/time.hpp"
#include "engine/timeline.hpp"

namespace errand {

void JobChanges::enqueued(JobRecord& r) { event(r, r.created_at, "enqueued", enqueued_fields(r)); }

void JobChanges::leased(JobRecord& r) { event(r, *r.started_at, "leased", leased_fields(r)); }

void JobChanges::succeeded(JobRecord& r) {
  event(r, *r.finished_at, "succeeded", succeeded_fields(r));
}

JobRecord new_job(const SubmitSpec& s, const JobId& id, Millis now, JobChanges& c) {
  JobRecord r;
  r.id = id;
  r.queue = s.queue;
  r.priority = s.priority;
  r.max_attempts = s.max_attempts;
  r.backoff = s.backoff;
  r.lease_ms = s.lease_ms;
  r.created_at = now;
  r.run_at = s.run_at && *s.run_at > now ? *s.run_at : now;
  r.state = r.run_at > now ? JobState::kScheduled : JobState::kQueued;
  r.deadline = s.deadline;
  r.idempotency_key = s.idempotency_key;
  r.tags = s.tags;
  r.traceparent = s.traceparent;
  r.flow = s.flow;
  c.enqueued(r);
  if (r.state == JobState::kScheduled) {
    c.event(r, now, "scheduled", json_member("run_at", format_rfc3339(r.run_at)));
  } else {
    c.ready(r.queue);
  }
  c.moved(r, std::nullopt, now);
  return r;
}

void lease_job(JobRecord& r, std::string_view worker, std::string token, std::int64_t lease_ms,
               Millis now, JobChanges& c) {
  r.state = JobState::kRunning;
  ++r.attempt;
  r.started_at = now;
  r.worker = std::string(worker);
  r.lease_token = std::move(token);
  r.granted_lease_ms = lease_ms;
  r.lease_expires_at = now + lease_ms;
  c.moved(r, JobState::kQueued, now);
  c.leased(r);
}

void ack_job(JobRecord& r, Millis now, JobChanges& c) {
  r.state = JobState::kSucceeded;
  r.finished_at = now;
  r.lease_token.clear();
  r.lease_expires_at.reset();
  c.moved(r, JobState::kRunning, now);
  c.succeeded(r);
}

FailOutcome fail_attempt(JobRecord& r, JobError error, bool retry,
                         std::optional<std::int64_t> retry_in_ms, double unit_random, Millis now,
                         JobChanges& c) {
  error.attempt = r.attempt;
  c.event(r, now, "failed_attempt",
          "\"attempt\":" + std::to_string(r.attempt) + "," + json_member("worker", r.worker) + "," +
              error_member(error));
  FailOutcome out{};
  r.error = error;
  r.lease_token.clear();
  r.lease_expires_at.reset();
  if (r.cancel_requested) {
    // The worker gave up on a job whose cancellation was asked for: honour
    // the cancellation rather than retrying.
    r.state = JobState::kCancelled;
    r.finished_at = now;
    c.event(r, now, "cancelled");
  } else if (retry && r.attempt < r.max_attempts) {
    const std::int64_t delay =
        retry_in_ms.value_or(retry_delay_ms(r.backoff, r.attempt, unit_random));
    r.state = delay > 0 ? JobState::kScheduled : JobState::kQueued;
    r.run_at = now + delay;
    if (r.state == JobState::kScheduled) {
      c.event(r, now, "scheduled", json_member("run_at", format_rfc3339(r.run_at)));
    } else {
      c.ready(r.queue);
    }
    out.run_at = r.run_at;
  } else {
    r.state = JobState::kFailed;
    r.finished_at = now;
    c.event(r, now, "failed",
            "\"attempt\":" + std::to_string(r.attempt) + "," + error_member(error));
  }
  out.state = r.state;
  c.moved(r, JobState::kRunning, now);
  return out;
}

HeartbeatOutcome heartbeat_job(JobRecord& r, std::optional<std::int64_t> lease_ms,
                               const std::string& progress_json, Millis now, JobChanges& c) {
  // Without lease_ms a heartbeat renews for as long as the lease was granted.
  const std::int64_t granted = lease_ms.value_or(r.granted_lease_ms);
  const Millis expires = now + granted;
  // The event before the record changes: a store that has not written the
  // lease's event yet writes it from the record as the lease left it.
  if (!progress_json.empty()) {
    // The progress object's members become the event's fields.
    c.event(r, now, "progress",
            std::string_view(progress_json).substr(1, progress_json.size() - 2));
    r.progress_json = progress_json;
  } else {
    c.event(r, now, "heartbeat", json_member("lease_expires_at", format_rfc3339(expires)));
  }
  r.granted_lease_ms = granted;
  r.lease_expires_at = expires;
  return {expires, r.cancel_requested};
}

void cancel_job(JobRecord& r, Millis now, JobChanges& c) {
  if (r.state == JobState::kRunning) {
    if (!r.cancel_requested) {
      r.cancel_requested = true;
      c.event(r, now, "cancel_requested");
    }
    return;
  }
  const JobState from = r.state;
  r.state = JobState::kCancelled;
  r.finished_at = now;
  c.moved(r, from, now);
  c.event(r, now, "cancelled");
}

void retry_job(JobRecord& r, Millis now, JobChanges& c) {
  const JobState from = r.state;
  r.state = JobState::kQueued;
  r.attempt = 0;
  r.run_at = now;
  r.finished_at.reset();
  r.cancel_requested = false;
  r.deadline.reset();  // an operator who retries wants it to run, not to expire again
  c.moved(r, from, now);
  c.event(r, now, "retried_by_admin");
  c.ready(r.queue);
}

void expire_job(JobRecord& r, Millis now, JobChanges& c) {
  const JobState from = r.state;
  r.state = JobState::kExpired;
  r.finished_at = now;
  c.moved(r, from, now);
  c.event(r, now, "expired", json_member("deadline", format_rfc3339(*r.deadline)));
}

void activate_job(JobRecord& r, Millis now, JobChanges& c) {
  r.state = JobState::kQueued;
  c.moved(r, JobState::kScheduled, now);
  c.ready(r.queue);
}

std::string lease_token(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string t;
  for (int i = 0; i < 2; ++i) {
    std::uint64_t r = rng();
    for (int j = 0; j < 16; ++j, r >>= 4) t.push_back(kHex[r & 0xf]);
  }
  return t;
}

JobError lease_expired_error(const JobRecord& r) {
  return {"the lease ran out after " + std::to_string(r.granted_lease_ms) +
              " ms without an ack, fail or heartbeat",
          "lease_expired", "worker " + r.worker, 0};
}

Status job_not_found(const JobId& id) { return not_found("no job " + id.to_string()); }

Status lease_lost(const JobId& id) {
  return conflict("the lease on job " + id.to_string() +
                  " is not held by this token (expired, released or never granted)");
}

Status check_cancel(const JobRecord& r) {
  if (!is_terminal(r.state)) return Status::ok();
  return conflict("job " + r.id.to_string() + " is already " + std::string(to_string(r.state)) +
                  "; it cannot be cancelled");
}

Status check_retry(const JobRecord& r) {
  if (next_state(r.state, Transition::kAdminRetry)) return Status::ok();
  return conflict("job " + r.id.to_string() + " is " + std::string(to_string(r.state)) +
                  "; only failed, cancelled or expired jobs can be retried");
}

Status check_discard(const JobRecord& r) {
  if (is_terminal(r.state)) return Status::ok();
  return conflict("job " + r.id.to_string() + " is " + std::string(to_string(r.state)) +
                  "; only finished jobs can be deleted (cancel it first)");
}

}  // namespace errand
