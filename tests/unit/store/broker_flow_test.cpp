// The Broker conformance suite, part 5: flows (SPEC §3 Flows) — fan-out and
// fan-in with inputs, compensation in reverse order of completion, cancel,
// idempotency, deadlines and restarts.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "broker_conformance.hpp"

namespace errand::conformance {
namespace {

using S = JobState;

FlowStepSpec step(std::string name, std::string queue, std::vector<std::string> after = {},
                  std::optional<std::string> compensate_queue = std::nullopt) {
  FlowStepSpec s;
  s.name = std::move(name);
  s.after = std::move(after);
  s.job = job(std::move(queue), R"({"step":")" + s.name + R"("})");
  if (compensate_queue) s.compensate = job(*compensate_queue, R"({"undo":")" + s.name + R"("})");
  return s;
}

// The checkout: reserve and charge (both undoable) and fraud in parallel,
// then confirm.
FlowSpec checkout(const std::string& prefix) {
  FlowSpec f;
  f.name = "checkout";
  f.steps.push_back(step("reserve", prefix + "-inventory", {}, prefix + "-inventory-undo"));
  f.steps.push_back(step("charge", prefix + "-payments", {}, prefix + "-payments-undo"));
  f.steps.push_back(step("fraud", prefix + "-fraud"));
  f.steps.push_back(step("confirm", prefix + "-orders", {"reserve", "charge", "fraud"}));
  return f;
}

const FlowStepView& step_of(const FlowView& v, std::string_view name) {
  for (const auto& s : v.steps) {
    if (s.name == name) return s;
  }
  throw std::runtime_error("no step " + std::string(name));
}

boost::json::value parse(const std::string& text) { return boost::json::parse(text); }

TEST_P(BrokerTest, FlowFansOutThenInPassingResultsOn) {
  const FlowSpec spec = checkout("fan");
  const FlowSubmitOutcome out = must(submit_flow(spec), "submit flow");
  EXPECT_FALSE(out.replayed);
  EXPECT_EQ(out.flow.state, FlowState::kRunning);
  EXPECT_EQ(step_of(out.flow, "reserve").state, "queued");
  EXPECT_EQ(step_of(out.flow, "confirm").state, "pending");
  EXPECT_FALSE(step_of(out.flow, "confirm").job);
  const JobId flow = out.flow.id;

  for (const char* q : {"fan-inventory", "fan-payments", "fan-fraud"}) {
    const JobView l = lease_one(q);
    ASSERT_TRUE(l.flow) << q;
    EXPECT_EQ(l.flow->id, flow);
    EXPECT_FALSE(l.flow->compensating);
    EXPECT_EQ(l.flow->inputs_json, "{}") << "a first step waits for nothing";
    ASSERT_TRUE(l.record.flow);
    EXPECT_EQ(l.record.flow->step, l.flow->step);
    EXPECT_TRUE(must(lease(lease_spec({"fan-orders"})), "lease").empty())
        << "confirm does not start before every step it is after";
    must(ack(l.record.id, l.record.lease_token, R"({"by":")" + l.flow->step + R"("})"), "ack");
  }
  const JobView confirm = lease_one("fan-orders");
  ASSERT_TRUE(confirm.flow);
  EXPECT_EQ(confirm.flow->step, "confirm");
  EXPECT_EQ(
      parse(confirm.flow->inputs_json),
      parse(R"({"reserve":{"by":"reserve"},"charge":{"by":"charge"},"fraud":{"by":"fraud"}})"));
  must(ack(confirm.record.id, confirm.record.lease_token, R"({"order":"confirmed"})"), "ack");

  const FlowView done = must(get_flow(flow), "get flow");
  EXPECT_EQ(done.state, FlowState::kSucceeded);
  ASSERT_TRUE(done.finished_at);
  EXPECT_EQ(parse(done.result_json), parse(R"({"confirm":{"order":"confirmed"}})"));
  EXPECT_EQ(parse(step_of(done, "charge").result_json), parse(R"({"by":"charge"})"));
  const auto types = flow_event_types(flow);
  EXPECT_EQ(types.front(), "started");
  EXPECT_EQ(types.back(), "succeeded");
  EXPECT_EQ(std::count(types.begin(), types.end(), "step_started"), 4);
  EXPECT_EQ(std::count(types.begin(), types.end(), "step_succeeded"), 4);
}

TEST_P(BrokerTest, FlowFailureSkipsWhatWaitsAndCompensatesLastCompletedFirst) {
  const JobId flow = must(submit_flow(checkout("comp")), "submit flow").flow.id;
  const JobView charge = lease_one("comp-payments");
  must(ack(charge.record.id, charge.record.lease_token, R"({"charged":10})"), "ack charge");
  const JobView reserve = lease_one("comp-inventory");
  must(ack(reserve.record.id, reserve.record.lease_token, R"({"held":2})"), "ack reserve");
  const JobView fraud = lease_one("comp-fraud");
  must(fail(fail_spec(fraud, /*retry=*/false)), "fail fraud");

  FlowView v = must(get_flow(flow), "get flow");
  EXPECT_EQ(v.state, FlowState::kCompensating);
  EXPECT_EQ(step_of(v, "confirm").state, "skipped");
  ASSERT_TRUE(v.error);
  EXPECT_EQ(v.error->step, "fraud");
  EXPECT_EQ(v.error->message, "boom");
  EXPECT_TRUE(must(lease(lease_spec({"comp-orders"})), "lease").empty());
  EXPECT_TRUE(must(lease(lease_spec({"comp-payments-undo"})), "lease").empty())
      << "one compensation at a time, the last completed first";

  const JobView undo_reserve = lease_one("comp-inventory-undo");
  ASSERT_TRUE(undo_reserve.flow);
  EXPECT_TRUE(undo_reserve.flow->compensating);
  EXPECT_EQ(undo_reserve.flow->step, "reserve");
  EXPECT_EQ(parse(undo_reserve.flow->inputs_json), parse(R"({"reserve":{"held":2}})"));
  must(ack(undo_reserve.record.id, undo_reserve.record.lease_token), "ack undo reserve");
  const JobView undo_charge = lease_one("comp-payments-undo");
  EXPECT_EQ(parse(undo_charge.flow->inputs_json), parse(R"({"charge":{"charged":10}})"));
  must(ack(undo_charge.record.id, undo_charge.record.lease_token), "ack undo charge");

  v = must(get_flow(flow), "get flow");
  EXPECT_EQ(v.state, FlowState::kFailed);
  EXPECT_EQ(step_of(v, "charge").compensation_state, "succeeded");
  const auto types = flow_event_types(flow);
  const std::vector<std::string> tail(types.end() - 8, types.end());
  EXPECT_EQ(tail,
            (std::vector<std::string>{"step_failed", "compensating", "step_skipped",
                                      "compensation_started", "compensation_succeeded",
                                      "compensation_started", "compensation_succeeded", "failed"}));
}

TEST_P(BrokerTest, FlowCancelStopsWhatRunsAndEndsCancelled) {
  const JobId flow = must(submit_flow(checkout("cancel")), "submit flow").flow.id;
  const JobView charge = lease_one("cancel-payments");
  const FlowView v = must(cancel_flow(flow), "cancel flow");
  EXPECT_EQ(v.state, FlowState::kCompensating);
  EXPECT_EQ(step_of(v, "reserve").state, "cancelled");
  EXPECT_EQ(step_of(v, "confirm").state, "skipped");
  EXPECT_TRUE(get_ok(charge.record.id).record.cancel_requested);
  EXPECT_TRUE(must(heartbeat(charge.record.id, charge.record.lease_token), "hb").cancel_requested);
  // The charge went through anyway: it is refunded.
  must(ack(charge.record.id, charge.record.lease_token, R"({"charged":1})"), "ack charge");
  const JobView refund = lease_one("cancel-payments-undo");
  must(ack(refund.record.id, refund.record.lease_token), "ack refund");
  EXPECT_EQ(must(get_flow(flow), "get").state, FlowState::kCancelled);
  EXPECT_EQ(cancel_flow(flow).status().code(), Code::kConflict) << "it is over";
}

TEST_P(BrokerTest, FlowCancelOfAFinishedFlowIsAConflict) {
  FlowSpec one;
  one.name = "one";
  one.steps.push_back(step("only", "cancel-done"));
  const JobId flow = must(submit_flow(one), "submit").flow.id;
  const JobView l = lease_one("cancel-done");
  must(ack(l.record.id, l.record.lease_token), "ack");
  EXPECT_EQ(cancel_flow(flow).status().code(), Code::kConflict);
  EXPECT_EQ(get_flow(JobId{}).status().code(), Code::kNotFound);
}

TEST_P(BrokerTest, FlowSubmitIsIdempotentByKey) {
  FlowSpec a = checkout("idem");
  a.idempotency_key = "order-7";
  const FlowSubmitOutcome first = must(submit_flow(a), "first");
  const FlowSubmitOutcome again = must(submit_flow(checkout("idem")), "no key: a new flow");
  EXPECT_NE(again.flow.id, first.flow.id);
  FlowSpec b = checkout("idem");
  b.idempotency_key = "order-7";
  const FlowSubmitOutcome replay = must(submit_flow(b), "replay");
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.flow.id, first.flow.id);
  b.steps[0].job.payload_json = R"({"other":true})";
  EXPECT_EQ(submit_flow(b).status().code(), Code::kConflict);
  EXPECT_EQ(must(queue("idem-fraud"), "queue").counts[static_cast<int>(S::kQueued)], 2)
      << "a replay starts no step";
}

TEST_P(BrokerTest, FlowDeadlineCapsEveryStepsDeadline) {
  FlowSpec f = checkout("ttl");
  f.deadline = now_millis() + 60'000;
  const FlowView v = must(submit_flow(f), "submit").flow;
  const JobView reserve = get_ok(*step_of(v, "reserve").job);
  ASSERT_TRUE(reserve.record.deadline);
  EXPECT_EQ(*reserve.record.deadline, *f.deadline);
}

TEST_P(BrokerTest, FlowExpiredStepFailsTheFlow) {
  FlowSpec f;
  f.name = "late";
  f.steps.push_back(step("a", "late-a", {}, "late-a-undo"));
  f.steps.push_back(step("b", "late-b", {"a"}));
  f.steps[1].job.run_at = now_millis() + 3'600'000;
  f.deadline = now_millis() + 300;
  const JobId flow = must(submit_flow(f), "submit").flow.id;
  const JobView a = lease_one("late-a");
  must(ack(a.record.id, a.record.lease_token), "ack a");
  const JobId b = *step_of(must(get_flow(flow), "get"), "b").job;
  wait_for_state(b, S::kExpired);
  const FlowView v = must(get_flow(flow), "get");
  EXPECT_EQ(v.state, FlowState::kCompensating);
  ASSERT_TRUE(v.error);
  EXPECT_EQ(v.error->step, "b");
  EXPECT_EQ(v.error->type, "expired");
  const JobView undo = lease_one("late-a-undo");
  EXPECT_FALSE(undo.record.deadline) << "a compensation runs even after the flow's deadline";
}

TEST_P(BrokerTest, FlowSurvivesARestartWhereItWas) {
  const JobId flow = must(submit_flow(checkout("restart")), "submit").flow.id;
  for (const char* q : {"restart-inventory", "restart-payments"}) {
    const JobView l = lease_one(q);
    must(ack(l.record.id, l.record.lease_token, R"({"q":")" + std::string(q) + R"("})"), "ack");
  }
  const auto events_before = flow_event_types(flow);
  reopen();
  FlowView v = must(get_flow(flow), "get after restart");
  EXPECT_EQ(v.state, FlowState::kRunning);
  EXPECT_EQ(step_of(v, "reserve").state, "succeeded");
  EXPECT_EQ(flow_event_types(flow), events_before);
  const JobView fraud = lease_one("restart-fraud");
  must(ack(fraud.record.id, fraud.record.lease_token), "ack fraud");
  const JobView confirm = lease_one("restart-orders");
  EXPECT_EQ(parse(confirm.flow->inputs_json),
            parse(R"({"reserve":{"q":"restart-inventory"},"charge":{"q":"restart-payments"},)"
                  R"("fraud":null})"));
  must(ack(confirm.record.id, confirm.record.lease_token), "ack confirm");
  EXPECT_EQ(must(get_flow(flow), "get").state, FlowState::kSucceeded);
}

TEST_P(BrokerTest, FlowsAreListedNewestFirstByState) {
  FlowSpec one;
  one.name = "listed";
  one.steps.push_back(step("only", "list-flows"));
  std::vector<JobId> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(must(submit_flow(one), "submit").flow.id);
  const JobView l = lease_one("list-flows");
  must(ack(l.record.id, l.record.lease_token), "ack");  // the oldest succeeds
  FlowListSpec running;
  running.state = FlowState::kRunning;
  running.limit = 1;
  const FlowPage first = must(list_flows(running), "list");
  ASSERT_EQ(first.flows.size(), 1u);
  EXPECT_EQ(first.flows[0].id, ids[2]);
  ASSERT_TRUE(first.next);
  running.before = first.next;
  const FlowPage second = must(list_flows(running), "list page 2");
  ASSERT_EQ(second.flows.size(), 1u);
  EXPECT_EQ(second.flows[0].id, ids[1]);
  EXPECT_FALSE(second.next);
  FlowListSpec done;
  done.state = FlowState::kSucceeded;
  EXPECT_EQ(must(list_flows(done), "list succeeded").flows.at(0).id, ids[0]);
}

}  // namespace
}  // namespace errand::conformance

namespace errand::conformance {
namespace {

TEST_P(BrokerTest, AFinishedFlowIsPurgedAfterTheRetention) {
  reopen(StoreOptions{.retention_ms = 300});
  FlowSpec one;
  one.name = "short-lived";
  one.idempotency_key = "purge-me";
  one.steps.push_back(step("only", "purge-flow"));
  const JobId flow = must(submit_flow(one), "submit").flow.id;
  const JobView l = lease_one("purge-flow");
  must(ack(l.record.id, l.record.lease_token), "ack");
  const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
  while (get_flow(flow).is_ok()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the flow was never purged";
    auto next = subscribe(broker(), flow_topic(flow));
    if (!get_flow(flow).is_ok()) break;
    next.wait_until(deadline);
  }
  EXPECT_EQ(flow_timeline(flow).status().code(), Code::kNotFound);
  EXPECT_FALSE(must(submit_flow(one), "the key is free again").replayed);
  reopen(StoreOptions{.retention_ms = 300});
  EXPECT_EQ(get_flow(flow).status().code(), Code::kNotFound) << "gone from the store too";
}

}  // namespace
}  // namespace errand::conformance
