#include "core/flow.hpp"

#include <gtest/gtest.h>

namespace errand {
namespace {

using Steps = std::vector<FlowStepShape>;
using Idx = std::vector<std::size_t>;

// The checkout of SPEC §3: reserve, charge (compensable) and fraud in
// parallel, then confirm.
Steps checkout() {
  return {{"reserve", {}, true},
          {"charge", {}, true},
          {"fraud", {}, false},
          {"confirm", {"reserve", "charge", "fraud"}, false}};
}

FlowStatus fresh(const Steps& steps) {
  FlowStatus s;
  s.steps.resize(steps.size());
  return s;
}

// Plans and applies until nothing more is asked for; returns every action.
std::vector<FlowActions> settle(const FlowGraph& g, FlowStatus& s) {
  std::vector<FlowActions> all;
  for (FlowActions a = plan(g, s); !a.empty(); a = plan(g, s)) {
    apply(s, a);
    all.push_back(a);
    if (all.size() > 10) ADD_FAILURE() << "plan() never settles";
  }
  return all;
}

TEST(FlowShape, AcceptsADag) { EXPECT_TRUE(validate_flow_shape(checkout()).is_ok()); }

TEST(FlowShape, RejectsWhatSpecSaysIsA400) {
  EXPECT_EQ(validate_flow_shape({}).message(), "a flow needs at least one step");
  Steps many(kMaxFlowSteps + 1);
  for (std::size_t i = 0; i < many.size(); ++i) many[i].name = "s" + std::to_string(i);
  EXPECT_EQ(validate_flow_shape(many).message(), "a flow has at most 100 steps, not 101");
  many.pop_back();
  EXPECT_TRUE(validate_flow_shape(many).is_ok());

  EXPECT_EQ(validate_flow_shape({{"a", {"b"}}}).message(),
            "step 'a' is after 'b', which is not a step");
  EXPECT_EQ(validate_flow_shape({{"a", {"a"}}}).message(), "step 'a' cannot be after itself");
  EXPECT_EQ(validate_flow_shape({{"a", {}}, {"b", {"a", "a"}}}).message(),
            "step 'b' names 'a' twice in after");
  EXPECT_EQ(validate_flow_shape({{"a", {}}, {"a", {}}}).message(), "step names must be distinct");
  EXPECT_FALSE(validate_flow_shape({{"bad name", {}}}).is_ok());
  EXPECT_FALSE(validate_flow_shape({{std::string(kMaxStepNameLength + 1, 'x'), {}}}).is_ok());
  const Status cycle = validate_flow_shape({{"a", {"c"}}, {"b", {"a"}}, {"c", {"b"}}, {"d", {}}});
  EXPECT_FALSE(cycle.is_ok());
  EXPECT_NE(cycle.message().find("cycle"), std::string::npos) << cycle.message();
}

TEST(FlowShape, SinksAreTheStepsNobodyWaitsFor) {
  EXPECT_EQ(sink_steps(flow_graph(checkout())), Idx{3});
  EXPECT_EQ(sink_steps(flow_graph({{"a", {}}, {"b", {"a"}}, {"c", {"a"}}})), (Idx{1, 2}));
}

TEST(FlowPlan, FansOutThenInThenSucceeds) {
  const Steps steps = checkout();
  const FlowGraph g = flow_graph(steps);
  FlowStatus s = fresh(steps);
  FlowActions a = plan(g, s);
  EXPECT_EQ(a.start, (Idx{0, 1, 2}));
  EXPECT_FALSE(a.state);
  apply(s, a);
  EXPECT_TRUE(plan(g, s).empty()) << "nothing more until a job changes";

  record_step_end(s, 1, JobState::kSucceeded);
  record_step_end(s, 0, JobState::kSucceeded);
  EXPECT_TRUE(plan(g, s).empty()) << "confirm waits for fraud too";
  record_step_end(s, 2, JobState::kSucceeded);
  a = plan(g, s);
  EXPECT_EQ(a.start, Idx{3});
  apply(s, a);
  record_step_end(s, 3, JobState::kSucceeded);
  a = plan(g, s);
  EXPECT_EQ(a.state, FlowState::kSucceeded);
  apply(s, a);
  EXPECT_TRUE(plan(g, s).empty());
}

TEST(FlowPlan, AFailureCancelsWhatRunsSkipsWhatWaitsAndCompensatesLastCompletedFirst) {
  const Steps steps = checkout();
  const FlowGraph g = flow_graph(steps);
  FlowStatus s = fresh(steps);
  settle(g, s);
  record_step_end(s, 1, JobState::kSucceeded);  // charge first
  record_step_end(s, 0, JobState::kSucceeded);  // then reserve
  record_step_end(s, 2, JobState::kFailed);     // fraud says no
  FlowActions a = plan(g, s);
  EXPECT_EQ(a.skip, Idx{3});
  EXPECT_TRUE(a.cancel.empty());
  EXPECT_EQ(a.compensate, 0u) << "reserve completed last: undone first";
  EXPECT_EQ(a.state, FlowState::kCompensating);
  apply(s, a);
  EXPECT_TRUE(plan(g, s).empty()) << "one compensation at a time";
  record_compensation_end(s, 0, JobState::kSucceeded);
  a = plan(g, s);
  EXPECT_EQ(a.compensate, 1u);
  EXPECT_FALSE(a.state);
  apply(s, a);
  record_compensation_end(s, 1, JobState::kFailed);  // a failed refund still ends the flow
  a = plan(g, s);
  EXPECT_EQ(a.state, FlowState::kFailed);
  apply(s, a);
  EXPECT_EQ(s.failed_step, 2u);
}

TEST(FlowPlan, RunningStepsAreCancelledAndCompensatedIfTheySucceedAnyway) {
  const Steps steps = checkout();
  const FlowGraph g = flow_graph(steps);
  FlowStatus s = fresh(steps);
  settle(g, s);
  record_step_end(s, 0, JobState::kSucceeded);
  record_step_end(s, 2, JobState::kExpired);  // fraud expired: charge still running
  FlowActions a = plan(g, s);
  EXPECT_EQ(a.cancel, Idx{1});
  EXPECT_EQ(a.skip, Idx{3});
  EXPECT_FALSE(a.compensate) << "compensation waits until no step job runs";
  EXPECT_EQ(a.state, FlowState::kCompensating);
  apply(s, a);
  EXPECT_TRUE(plan(g, s).empty()) << "cancel is sent once";
  record_step_end(s, 1, JobState::kSucceeded);  // the charge went through after all
  a = plan(g, s);
  EXPECT_EQ(a.compensate, 1u) << "the charge completed last";
  apply(s, a);
  record_compensation_end(s, 1, JobState::kSucceeded);
  EXPECT_EQ(plan(g, s).compensate, 0u);
}

TEST(FlowPlan, ACancelledStepJobFailsTheFlowUnlessTheFlowCancelledIt) {
  const Steps steps = {{"a", {}, false}, {"b", {}, false}};
  const FlowGraph g = flow_graph(steps);
  FlowStatus s = fresh(steps);
  settle(g, s);
  record_step_end(s, 0, JobState::kCancelled);  // an operator cancelled a's job
  EXPECT_EQ(s.failed_step, 0u);
  FlowActions a = plan(g, s);
  EXPECT_EQ(a.cancel, Idx{1});
  apply(s, a);
  record_step_end(s, 1, JobState::kCancelled);  // the flow's own cancel
  EXPECT_EQ(s.failed_step, 0u);
  EXPECT_EQ(plan(g, s).state, FlowState::kFailed);
}

TEST(FlowPlan, CancellingTheFlowUndoesItAndEndsCancelled) {
  const Steps steps = checkout();
  const FlowGraph g = flow_graph(steps);
  FlowStatus s = fresh(steps);
  settle(g, s);
  record_step_end(s, 1, JobState::kSucceeded);
  s.cancel_requested = true;
  FlowActions a = plan(g, s);
  EXPECT_EQ(a.cancel, (Idx{0, 2}));
  EXPECT_EQ(a.skip, Idx{3});
  apply(s, a);
  record_step_end(s, 0, JobState::kCancelled);
  record_step_end(s, 2, JobState::kFailed);  // a worker that stopped on cancel_requested
  a = plan(g, s);
  EXPECT_EQ(a.compensate, 1u);
  apply(s, a);
  record_compensation_end(s, 1, JobState::kSucceeded);
  EXPECT_EQ(plan(g, s).state, FlowState::kCancelled);
  EXPECT_FALSE(s.failed_step);
}

TEST(FlowPlan, AFailureWithNothingToUndoEndsFailedAtOnce) {
  const Steps steps = {{"only", {}, true}};
  const FlowGraph g = flow_graph(steps);
  FlowStatus s = fresh(steps);
  settle(g, s);
  record_step_end(s, 0, JobState::kFailed);
  const FlowActions a = plan(g, s);
  EXPECT_EQ(a.state, FlowState::kFailed) << "a failed step is not compensated";
  EXPECT_FALSE(a.compensate);
}

TEST(FlowState, NamesRoundTrip) {
  for (FlowState st : {FlowState::kRunning, FlowState::kCompensating, FlowState::kSucceeded,
                       FlowState::kFailed, FlowState::kCancelled}) {
    EXPECT_EQ(parse_flow_state(to_string(st)), st);
  }
  EXPECT_FALSE(parse_flow_state("done"));
}

}  // namespace
}  // namespace errand
