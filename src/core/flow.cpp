#include "core/flow.hpp"

#include <algorithm>
#include <array>
#include <map>

namespace errand {
namespace {

constexpr std::array<std::string_view, 5> kFlowStateNames = {"running", "compensating", "succeeded",
                                                             "failed", "cancelled"};

bool is_valid_step_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxStepNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

// A step of a cycle (Kahn's algorithm leaves it unvisited), or nullopt.
std::optional<std::size_t> step_in_cycle(const std::vector<std::vector<std::size_t>>& after) {
  const std::size_t n = after.size();
  std::vector<std::size_t> waiting_on(n);
  std::vector<std::vector<std::size_t>> waited_by(n);
  for (std::size_t i = 0; i < n; ++i) {
    waiting_on[i] = after[i].size();
    for (std::size_t a : after[i]) waited_by[a].push_back(i);
  }
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < n; ++i) {
    if (waiting_on[i] == 0) ready.push_back(i);
  }
  std::size_t visited = 0;
  while (!ready.empty()) {
    const std::size_t i = ready.back();
    ready.pop_back();
    ++visited;
    for (std::size_t next : waited_by[i]) {
      if (--waiting_on[next] == 0) ready.push_back(next);
    }
  }
  if (visited == n) return std::nullopt;
  for (std::size_t i = 0; i < n; ++i) {
    if (waiting_on[i] > 0) return i;
  }
  return std::nullopt;
}

std::map<std::string_view, std::size_t> index_by_name(const std::vector<FlowStepShape>& steps) {
  std::map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < steps.size(); ++i) index.emplace(steps[i].name, i);
  return index;
}

}  // namespace

std::string_view to_string(FlowState s) { return kFlowStateNames[static_cast<std::size_t>(s)]; }

std::optional<FlowState> parse_flow_state(std::string_view text) {
  for (std::size_t i = 0; i < kFlowStateNames.size(); ++i) {
    if (kFlowStateNames[i] == text) return static_cast<FlowState>(i);
  }
  return std::nullopt;
}

Status validate_flow_shape(const std::vector<FlowStepShape>& steps) {
  if (steps.empty()) return invalid_argument("a flow needs at least one step");
  if (steps.size() > kMaxFlowSteps) {
    return invalid_argument("a flow has at most " + std::to_string(kMaxFlowSteps) + " steps, not " +
                            std::to_string(steps.size()));
  }
  const auto index = index_by_name(steps);
  if (index.size() != steps.size()) return invalid_argument("step names must be distinct");
  for (const FlowStepShape& s : steps) {
    if (!is_valid_step_name(s.name)) {
      return invalid_argument("step name '" + s.name + "' must be 1 to " +
                              std::to_string(kMaxStepNameLength) + " of A-Z a-z 0-9 _ . -");
    }
    for (std::size_t i = 0; i < s.after.size(); ++i) {
      const std::string& a = s.after[i];
      if (!index.contains(a)) {
        return invalid_argument("step '" + s.name + "' is after '" + a + "', which is not a step");
      }
      if (a == s.name) return invalid_argument("step '" + s.name + "' cannot be after itself");
      if (std::find(s.after.begin(), s.after.begin() + static_cast<std::ptrdiff_t>(i), a) !=
          s.after.begin() + static_cast<std::ptrdiff_t>(i)) {
        return invalid_argument("step '" + s.name + "' names '" + a + "' twice in after");
      }
    }
  }
  if (auto i = step_in_cycle(flow_graph(steps).after)) {
    return invalid_argument("the steps' after form a cycle (through step '" + steps[*i].name +
                            "')");
  }
  return Status::ok();
}

FlowGraph flow_graph(const std::vector<FlowStepShape>& steps) {
  const auto index = index_by_name(steps);
  FlowGraph g;
  g.after.resize(steps.size());
  g.compensable.resize(steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    for (const std::string& a : steps[i].after) {
      if (auto it = index.find(a); it != index.end()) g.after[i].push_back(it->second);
    }
    g.compensable[i] = steps[i].compensable;
  }
  return g;
}

std::vector<std::size_t> sink_steps(const FlowGraph& graph) {
  std::vector<bool> waited_for(graph.after.size());
  for (const auto& after : graph.after) {
    for (std::size_t a : after) waited_for[a] = true;
  }
  std::vector<std::size_t> sinks;
  for (std::size_t i = 0; i < waited_for.size(); ++i) {
    if (!waited_for[i]) sinks.push_back(i);
  }
  return sinks;
}

FlowActions plan(const FlowGraph& graph, const FlowStatus& status) {
  FlowActions a;
  if (is_terminal(status.state)) return a;
  const auto& steps = status.steps;
  const bool failing =
      status.state == FlowState::kCompensating || status.failed_step || status.cancel_requested;
  if (!failing) {
    bool all_succeeded = true;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (steps[i].phase != StepPhase::kSucceeded) all_succeeded = false;
      if (steps[i].phase != StepPhase::kPending) continue;
      const bool ready =
          std::all_of(graph.after[i].begin(), graph.after[i].end(),
                      [&](std::size_t b) { return steps[b].phase == StepPhase::kSucceeded; });
      if (ready) a.start.push_back(i);
    }
    if (all_succeeded) a.state = FlowState::kSucceeded;
    return a;
  }

  bool unfinished = false;
  bool compensating_now = false;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].phase == StepPhase::kPending) a.skip.push_back(i);
    if (steps[i].phase == StepPhase::kActive) {
      unfinished = true;
      if (!steps[i].cancel_sent) a.cancel.push_back(i);
    }
    if (steps[i].compensation == CompensationPhase::kActive) compensating_now = true;
  }
  if (!unfinished && !compensating_now) {
    // The succeeded step completed last, among those still to compensate.
    std::optional<std::size_t> next;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (steps[i].phase == StepPhase::kSucceeded && graph.compensable[i] &&
          steps[i].compensation == CompensationPhase::kNone &&
          (!next || steps[i].completed_as > steps[*next].completed_as)) {
        next = i;
      }
    }
    if (next) {
      a.compensate = next;
    } else {
      a.state = status.failed_step ? FlowState::kFailed : FlowState::kCancelled;
      return a;
    }
  }
  if (status.state != FlowState::kCompensating) a.state = FlowState::kCompensating;
  return a;
}

void apply(FlowStatus& status, const FlowActions& actions) {
  for (std::size_t i : actions.start) status.steps[i].phase = StepPhase::kActive;
  for (std::size_t i : actions.skip) status.steps[i].phase = StepPhase::kSkipped;
  for (std::size_t i : actions.cancel) status.steps[i].cancel_sent = true;
  if (actions.compensate)
    status.steps[*actions.compensate].compensation = CompensationPhase::kActive;
  if (actions.state) status.state = *actions.state;
}

void record_step_end(FlowStatus& status, std::size_t step, JobState state) {
  StepStatus& s = status.steps[step];
  switch (state) {
    case JobState::kSucceeded:
      s.phase = StepPhase::kSucceeded;
      s.completed_as = ++status.completions;
      return;
    case JobState::kCancelled:
      s.phase = StepPhase::kCancelled;
      // Cancelled by someone else than the flow: the step did not do its work.
      if (!s.cancel_sent && !status.failed_step) status.failed_step = step;
      return;
    default:  // failed, expired
      s.phase = StepPhase::kFailed;
      // A job the flow asked to stop may fail for that reason: not the cause.
      if (!s.cancel_sent && !status.failed_step) status.failed_step = step;
      return;
  }
}

void record_compensation_end(FlowStatus& status, std::size_t step, JobState state) {
  status.steps[step].compensation =
      state == JobState::kSucceeded ? CompensationPhase::kSucceeded : CompensationPhase::kFailed;
}

}  // namespace errand
