// Flows at the Broker interface (SPEC §3 Flows; the rules are core/flow.hpp):
// what a flow submit asks for, and what a flow read answers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/flow.hpp"
#include "core/job.hpp"
#include "engine/submit_spec.hpp"

namespace errand {

struct FlowStepSpec {
  std::string name;
  std::vector<std::string> after;
  // The step's job. Its idempotency_key must be empty (the flow has one) and
  // its deadline is no later than the flow's.
  SubmitSpec job;
  std::optional<SubmitSpec> compensate;  // the job that undoes it
};

struct FlowSpec {
  std::string name;
  std::vector<FlowStepSpec> steps;  // a valid shape (validate_flow_shape)
  std::string idempotency_key;      // per server; empty when none
  std::optional<Millis> deadline;   // absolute; from ttl_ms
  std::string traceparent;          // handed to every step job
};

// One step as a flow read shows it.
struct FlowStepView {
  std::string name;
  std::string queue;
  std::vector<std::string> after;
  // "pending" (waiting for its after steps), "skipped" (never started), or
  // its job's state.
  std::string state;
  std::optional<JobId> job;
  std::string result_json;  // empty unless succeeded
  std::optional<JobError> error;
  bool compensable = false;
  std::optional<JobId> compensation_job;
  std::string compensation_state;  // "" (none), or the compensation job's state
};

struct FlowError {
  std::string step;
  std::string message;
  std::string type;
};

struct FlowView {
  JobId id;
  std::string name;
  FlowState state = FlowState::kRunning;
  Millis created_at = 0;
  std::optional<Millis> finished_at;
  std::optional<Millis> deadline;
  std::string idempotency_key;
  std::vector<FlowStepView> steps;  // in the order submitted
  // {"<sink step>": <result>, ...} once succeeded; empty before.
  std::string result_json;
  std::optional<FlowError> error;  // once failed
};

struct FlowSubmitOutcome {
  FlowView flow;
  bool replayed = false;  // the idempotency key matched an existing flow
};

struct FlowListSpec {
  std::optional<FlowState> state;
  int limit = 50;
  std::optional<JobId> before;  // cursor: only flows older than this id
};

struct FlowPage {
  std::vector<FlowView> flows;  // newest first
  std::optional<JobId> next;
};

// What a step job carries beside its payload when leased:
// {"id","step","inputs":{"<after step>":<result>,...}}, or for a
// compensation {"id","compensating":"<step>","inputs":{"<step>":<result>}}.
struct LeasedFlow {
  JobId id;
  std::string step;
  bool compensating = false;
  std::string inputs_json;  // a JSON object
};

}  // namespace errand
