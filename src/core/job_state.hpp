// The states of a job and which moves between them are legal (SPEC §1).
#pragma once

#include <optional>
#include <string_view>

namespace errand {

enum class JobState : unsigned char {
  kScheduled,  // waiting for run_at (delayed, or backing off before a retry)
  kQueued,     // ready to be leased
  kRunning,    // leased by a worker
  kSucceeded,  // terminal
  kFailed,     // terminal: the dead-letter state
  kCancelled,  // terminal
  kExpired,    // terminal: deadline passed before a worker started it
};

inline constexpr int kJobStateCount = 7;

std::string_view to_string(JobState s);
std::optional<JobState> parse_job_state(std::string_view text);

inline bool is_terminal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kCancelled ||
         s == JobState::kExpired;
}

// Why a job moves. The state machine is keyed on the event, not on the pair
// of states: running -> cancelled is legal when a worker gives up on a job
// whose cancellation was requested, but no event takes running -> queued.
enum class Transition {
  kBecomeReady,   // scheduled -> queued (run_at reached)
  kLease,         // queued -> running
  kAck,           // running -> succeeded
  kFailRetry,     // running -> scheduled (a failed attempt with retries left)
  kFailTerminal,  // running -> failed
  kCancel,        // queued | scheduled -> cancelled; running -> cancelled after the worker gives up
  kExpire,        // queued | scheduled -> expired
  kAdminRetry,    // failed | cancelled | expired -> queued
};

// The state a job in `from` moves to through `t`, or nullopt when illegal.
std::optional<JobState> next_state(JobState from, Transition t);

}  // namespace errand
