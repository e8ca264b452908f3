#include "core/job_state.hpp"

#include <array>

namespace errand {
namespace {
constexpr std::array<std::string_view, kJobStateCount> kNames = {
    "scheduled", "queued", "running", "succeeded", "failed", "cancelled", "expired"};
}

std::string_view to_string(JobState s) { return kNames[static_cast<int>(s)]; }

std::optional<JobState> parse_job_state(std::string_view text) {
  for (int i = 0; i < kJobStateCount; ++i) {
    if (kNames[i] == text) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

std::optional<JobState> next_state(JobState from, Transition t) {
  using S = JobState;
  switch (t) {
    case Transition::kBecomeReady:
      if (from == S::kScheduled) return S::kQueued;
      break;
    case Transition::kLease:
      if (from == S::kQueued) return S::kRunning;
      break;
    case Transition::kAck:
      if (from == S::kRunning) return S::kSucceeded;
      break;
    case Transition::kFailRetry:
      if (from == S::kRunning) return S::kScheduled;
      break;
    case Transition::kFailTerminal:
      if (from == S::kRunning) return S::kFailed;
      break;
    case Transition::kCancel:
      if (from == S::kQueued || from == S::kScheduled || from == S::kRunning) return S::kCancelled;
      break;
    case Transition::kExpire:
      if (from == S::kQueued || from == S::kScheduled) return S::kExpired;
      break;
    case Transition::kAdminRetry:
      if (from == S::kFailed || from == S::kCancelled || from == S::kExpired) return S::kQueued;
      break;
  }
  return std::nullopt;
}

}  // namespace errand
