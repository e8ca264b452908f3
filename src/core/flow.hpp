// Flows (SPEC §3 Flows): a small DAG of steps, each an ordinary job on its
// own queue. This file is the pure part: checking a flow's shape, and
// deciding what must happen next from where its steps are. A backend keeps
// a FlowStatus per flow, calls plan() after every change of one of its jobs,
// applies the actions in the same durable write as that change (so a crash
// never separates "step A succeeded" from "step B was started"), and
// records what it did with the apply_* functions.
//
// The rules:
// - a step starts once every step in its `after` succeeded (steps without
//   `after` start at once);
// - the flow succeeds once every step succeeded;
// - when a step fails for good (failed, expired, or its job was cancelled),
//   or the flow is cancelled, the flow is `compensating`: steps not started
//   are skipped, steps whose job is not finished are cancelled (a running
//   job gets cancel_requested), and once no step job is left unfinished, the
//   succeeded steps that declared a compensation get it, one at a time, the
//   last completed first. A step that was running and still succeeded is
//   compensated too. Then the flow is `failed` (or `cancelled`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job_state.hpp"
#include "core/status.hpp"

namespace errand {

inline constexpr std::size_t kMaxFlowSteps = 100;
inline constexpr std::size_t kMaxStepNameLength = 64;

enum class FlowState { kRunning, kCompensating, kSucceeded, kFailed, kCancelled };

std::string_view to_string(FlowState s);
std::optional<FlowState> parse_flow_state(std::string_view text);
inline bool is_terminal(FlowState s) {
  return s == FlowState::kSucceeded || s == FlowState::kFailed || s == FlowState::kCancelled;
}

// The shape of one step; its job fields live with the caller.
struct FlowStepShape {
  std::string name;
  std::vector<std::string> after;
  bool compensable = false;  // declared `compensate`
};

// A valid shape: 1 to kMaxFlowSteps steps with distinct names of
// [A-Za-z0-9_.-]{1,64}, each `after` naming other steps (no repeats), and no
// cycle. The message names the step at fault.
Status validate_flow_shape(const std::vector<FlowStepShape>& steps);

// A valid shape by step index, as plan() needs it.
struct FlowGraph {
  std::vector<std::vector<std::size_t>> after;
  std::vector<bool> compensable;
};
// REQUIRES: validate_flow_shape(steps) is ok.
FlowGraph flow_graph(const std::vector<FlowStepShape>& steps);
// The steps no other step waits for, whose results make the flow's result.
std::vector<std::size_t> sink_steps(const FlowGraph& graph);

enum class StepPhase {
  kPending,    // waiting for its `after` steps; no job yet
  kActive,     // its job exists and is not finished
  kSucceeded,  // its job succeeded
  kFailed,     // its job failed or expired
  kCancelled,  // its job was cancelled
  kSkipped,    // never started: the flow failed or was cancelled first
};

enum class CompensationPhase { kNone, kActive, kSucceeded, kFailed };

struct StepStatus {
  StepPhase phase = StepPhase::kPending;
  bool cancel_sent = false;        // the flow asked its job to stop
  std::uint32_t completed_as = 0;  // 1 for the first step to succeed, 2 for the next...
  CompensationPhase compensation = CompensationPhase::kNone;
};

struct FlowStatus {
  FlowState state = FlowState::kRunning;
  std::vector<StepStatus> steps;
  std::uint32_t completions = 0;           // steps succeeded so far
  std::optional<std::size_t> failed_step;  // the first step that failed for good
  bool cancel_requested = false;           // POST /v1/flows/{id}/cancel
};

struct FlowActions {
  std::vector<std::size_t> start;         // create these steps' jobs
  std::vector<std::size_t> skip;          // never start these
  std::vector<std::size_t> cancel;        // cancel these steps' jobs
  std::optional<std::size_t> compensate;  // create this step's compensation job
  std::optional<FlowState> state;         // the flow's new state, when it changes

  bool empty() const {
    return start.empty() && skip.empty() && cancel.empty() && !compensate && !state;
  }
};

// What must happen now. Idempotent: after apply(), plan() asks for nothing
// more until another job of the flow changes.
// REQUIRES: status.steps.size() == graph.after.size().
FlowActions plan(const FlowGraph& graph, const FlowStatus& status);

// Records the actions as done (the jobs were created or cancelled).
void apply(FlowStatus& status, const FlowActions& actions);

// Records that step `step`'s job finished in `state` (a terminal job state).
void record_step_end(FlowStatus& status, std::size_t step, JobState state);
// Records that step `step`'s compensation job finished in `state`.
void record_compensation_end(FlowStatus& status, std::size_t step, JobState state);

}  // namespace errand
