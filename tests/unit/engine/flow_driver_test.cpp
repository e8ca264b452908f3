// engine/flow_driver: a flow driven through a FlowHost that keeps its jobs
// in memory, with what it asks of the host (jobs made and cancelled, flow
// events). The stores' use of it is the conformance suite's business
// (tests/unit/store/broker_flow_test.cpp).
#include "engine/flow_driver.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "engine/job_transitions.hpp"

namespace errand {
namespace {

constexpr Millis kNow = 1'800'000'000'000;

struct Ignored final : JobChanges {
  void event(JobRecord& r, Millis, std::string_view, std::string_view) override {
    ++r.timeline_seq;
  }
  void moved(const JobRecord&, std::optional<JobState>, Millis) override {}
  void ready(const std::string&, std::size_t) override {}
};

// Jobs in a map. A job the flow cancels while it waits ends at once, and is
// kept in `ended` for the test to hand back to advance_flow(), as a store does.
class MemoryHost final : public FlowHost {
 public:
  JobId create_job(SubmitSpec spec, Millis now) override {
    const JobRecord r = new_job(spec, ids_.next(now), now, ignored_);
    jobs[r.id] = r;
    created.push_back(r);
    return r.id;
  }
  std::optional<JobRecord> find_job(const JobId& id) override {
    const auto it = jobs.find(id);
    return it == jobs.end() ? std::nullopt : std::optional<JobRecord>(it->second);
  }
  bool cancel_job(const JobId& id, Millis now) override {
    const auto it = jobs.find(id);
    if (it == jobs.end() || is_terminal(it->second.state)) return false;
    errand::cancel_job(it->second, now, ignored_);
    if (is_terminal(it->second.state)) ended.push_back(it->second);
    return true;
  }
  std::string result_of(const JobId& id) override {
    const auto it = results.find(id);
    return it == results.end() ? std::string() : it->second;
  }
  void flow_event(FlowRecord& f, Millis, std::string_view type, std::string_view) override {
    ++f.timeline_seq;
    events.emplace_back(type);
  }

  // The job made for `step` (its compensation when `compensating`).
  JobRecord& job_of(std::string_view step, bool compensating = false) {
    for (auto it = created.rbegin(); it != created.rend(); ++it) {
      if (it->flow->step == step && it->flow->compensating == compensating) {
        return jobs.at(it->id);
      }
    }
    throw std::runtime_error("no job for step " + std::string(step));
  }
  bool has_job(std::string_view step, bool compensating = false) {
    for (const auto& r : created) {
      if (r.flow->step == step && r.flow->compensating == compensating) return true;
    }
    return false;
  }

  std::map<JobId, JobRecord> jobs;
  std::map<JobId, std::string> results;
  std::vector<JobRecord> created;
  std::vector<JobRecord> ended;
  std::vector<std::string> events;

 private:
  UuidV7Generator ids_{42};
  Ignored ignored_;
};

FlowStepSpec step(std::string name, std::vector<std::string> after = {}, bool compensable = false) {
  FlowStepSpec s;
  s.name = std::move(name);
  s.after = std::move(after);
  s.job.queue = "q-" + s.name;
  s.job.payload_json = "{}";
  if (compensable) {
    s.compensate = SubmitSpec{};
    s.compensate->queue = "undo-" + s.name;
    s.compensate->payload_json = "{}";
  }
  return s;
}

// reserve and charge (both undoable) and fraud, then confirm.
FlowSpec checkout() {
  FlowSpec f;
  f.name = "checkout";
  f.steps = {step("reserve", {}, true), step("charge", {}, true), step("fraud"),
             step("confirm", {"reserve", "charge", "fraud"})};
  return f;
}

class FlowDriver : public ::testing::Test {
 protected:
  void SetUp() override {
    flow = new_flow(checkout(), UuidV7Generator(7).next(kNow), kNow);
    start_flow(flow, host, kNow);
    host.events.clear();
  }
  // Job `step` ends in `state` (with `result` when it succeeded), and so
  // does every job the flow cancels meanwhile.
  void end(std::string_view step, JobState state, bool compensating = false,
           std::string result = "null") {
    JobRecord& r = host.job_of(step, compensating);
    r.state = state;
    if (state == JobState::kSucceeded) host.results[r.id] = result;
    if (state == JobState::kFailed) r.error = JobError{"card declined", "Declined", "", 1};
    EXPECT_TRUE(advance_flow(flow, r, state, host, kNow));
    while (!host.ended.empty()) {
      const JobRecord ended = host.ended.front();
      host.ended.erase(host.ended.begin());
      advance_flow(flow, ended, ended.state, host, kNow);
    }
  }
  const StepStatus& status_of(std::string_view step) {
    return flow.status.steps.at(*flow.step_index(step));
  }

  MemoryHost host;
  FlowRecord flow;
};

TEST_F(FlowDriver, AStartStartsTheStepsThatWaitForNothing) {
  EXPECT_TRUE(host.has_job("reserve"));
  EXPECT_TRUE(host.has_job("charge"));
  EXPECT_TRUE(host.has_job("fraud"));
  EXPECT_FALSE(host.has_job("confirm"));
  EXPECT_EQ(flow.status.state, FlowState::kRunning);
  EXPECT_EQ(status_of("reserve").phase, StepPhase::kActive);
  EXPECT_EQ(status_of("confirm").phase, StepPhase::kPending);
  const JobRecord& reserve = host.job_of("reserve");
  ASSERT_TRUE(reserve.flow);
  EXPECT_EQ(reserve.flow->id, flow.id);
  EXPECT_FALSE(reserve.flow->compensating);

  MemoryHost other;
  FlowRecord again = new_flow(checkout(), flow.id, kNow);
  start_flow(again, other, kNow);
  EXPECT_EQ(other.events,
            (std::vector<std::string>{"started", "step_started", "step_started", "step_started"}));
  EXPECT_EQ(again.timeline_seq, 4u);
}

TEST_F(FlowDriver, AStepStartsOnceEveryStepItIsAfterSucceeded) {
  end("reserve", JobState::kSucceeded, false, R"({"held":2})");
  end("charge", JobState::kSucceeded);
  EXPECT_FALSE(host.has_job("confirm"));
  end("fraud", JobState::kSucceeded);
  ASSERT_TRUE(host.has_job("confirm"));
  end("confirm", JobState::kSucceeded, false, R"({"order":1})");
  EXPECT_EQ(flow.status.state, FlowState::kSucceeded);
  EXPECT_EQ(flow.finished_at, kNow);
  EXPECT_EQ(host.events,
            (std::vector<std::string>{"step_succeeded", "step_succeeded", "step_succeeded",
                                      "step_started", "step_succeeded", "succeeded"}));

  const FlowInputs inputs = *flow_inputs_of(&flow, host.job_of("confirm"));
  FlowInputs read = inputs;
  read_flow_inputs(read, [this](const JobId& id) { return host.result_of(id); });
  EXPECT_EQ(read.flow.step, "confirm");
  EXPECT_EQ(read.flow.inputs_json, R"({"reserve":{"held":2},"charge":null,"fraud":null})");
}

TEST_F(FlowDriver, AFailedStepSkipsWhatWaitsCancelsWhatRunsAndCompensatesLastCompletedFirst) {
  end("charge", JobState::kSucceeded);
  end("reserve", JobState::kSucceeded);
  host.job_of("fraud").state = JobState::kRunning;  // leased: asked to stop, not ended
  end("fraud", JobState::kFailed);
  EXPECT_EQ(flow.status.state, FlowState::kCompensating);
  EXPECT_EQ(status_of("confirm").phase, StepPhase::kSkipped);
  ASSERT_TRUE(flow.error);
  EXPECT_EQ(flow.error->step, "fraud");
  EXPECT_EQ(flow.error->message, "card declined");
  EXPECT_EQ(flow.error->type, "Declined");
  ASSERT_TRUE(host.has_job("reserve", true)) << "reserve completed last: undone first";
  EXPECT_FALSE(host.has_job("charge", true)) << "one compensation at a time";
  end("reserve", JobState::kSucceeded, true);
  ASSERT_TRUE(host.has_job("charge", true));
  EXPECT_FALSE(host.job_of("charge", true).deadline);
  end("charge", JobState::kFailed, true);
  EXPECT_EQ(flow.status.state, FlowState::kFailed);
  EXPECT_EQ(status_of("charge").compensation, CompensationPhase::kFailed);
  EXPECT_EQ(host.events.back(), "failed");
}

TEST_F(FlowDriver, ACancelEndsQueuedStepsAndWaitsForRunningOnes) {
  host.job_of("charge").state = JobState::kRunning;
  ASSERT_TRUE(check_flow_cancel(flow).is_ok());
  request_flow_cancel(flow, host, kNow);
  EXPECT_EQ(host.job_of("reserve").state, JobState::kCancelled) << "queued: ends at once";
  EXPECT_TRUE(host.job_of("charge").cancel_requested) << "running: asked to stop";
  EXPECT_EQ(flow.status.state, FlowState::kCompensating);
  for (std::vector<JobRecord> ended; !host.ended.empty();) {
    ended.swap(host.ended);
    for (const JobRecord& r : ended) EXPECT_TRUE(advance_flow(flow, r, r.state, host, kNow));
  }
  EXPECT_EQ(status_of("confirm").phase, StepPhase::kSkipped);
  EXPECT_EQ(flow.status.state, FlowState::kCompensating) << "charge still runs";
  end("charge", JobState::kSucceeded);  // it went through anyway: undone
  end("charge", JobState::kSucceeded, true);
  EXPECT_EQ(flow.status.state, FlowState::kCancelled);
  EXPECT_FALSE(flow.error) << "cancelled, not failed";
  EXPECT_EQ(check_flow_cancel(flow).code(), Code::kConflict);
}

TEST_F(FlowDriver, AnEndOfAJobTheFlowDoesNotWaitForChangesNothing) {
  JobRecord stranger = host.job_of("reserve");
  stranger.id = UuidV7Generator(9).next(kNow);
  EXPECT_FALSE(advance_flow(flow, stranger, JobState::kSucceeded, host, kNow));
  end("reserve", JobState::kSucceeded);
  EXPECT_FALSE(advance_flow(flow, host.job_of("reserve"), JobState::kSucceeded, host, kNow))
      << "told twice";
  EXPECT_EQ(flow.status.completions, 1u);
}

TEST(FlowDriverSubmit, TheFlowsDeadlineCapsItsStepsButNotItsCompensations) {
  FlowSpec spec = checkout();
  spec.deadline = kNow + 1000;
  spec.steps[0].job.deadline = kNow + 500;
  spec.steps[0].compensate->deadline = std::nullopt;
  const FlowRecord f = new_flow(spec, JobId{}, kNow);
  EXPECT_EQ(f.steps[0].spec->deadline, kNow + 500) << "an earlier one stays";
  EXPECT_EQ(f.steps[1].spec->deadline, kNow + 1000);
  EXPECT_FALSE(f.steps[0].compensate->deadline);
  EXPECT_EQ(f.graph.after.size(), 4u);
}

TEST(FlowDriverSubmit, AReplayIsTheSameNameStepsAndPayloads) {
  const FlowRecord f = new_flow(checkout(), JobId{}, kNow);
  EXPECT_TRUE(check_flow_replay(f, flow_content_hash(checkout())).is_ok());
  FlowSpec other = checkout();
  other.steps[2].job.payload_json = R"({"x":1})";
  EXPECT_EQ(check_flow_replay(f, flow_content_hash(other)).code(), Code::kConflict);
  other = checkout();
  other.steps[3].after.pop_back();
  EXPECT_EQ(check_flow_replay(f, flow_content_hash(other)).code(), Code::kConflict);
}

TEST_F(FlowDriver, AViewShowsTheJobsStatesAndTheSinksResults) {
  end("reserve", JobState::kSucceeded, false, "1");
  end("charge", JobState::kSucceeded, false, "2");
  end("fraud", JobState::kSucceeded, false, "3");
  host.job_of("confirm").state = JobState::kRunning;
  FlowView v = flow_view(flow, [this](const JobId& id) -> const JobRecord* {
    const auto it = host.jobs.find(id);
    return it == host.jobs.end() ? nullptr : &it->second;
  });
  EXPECT_EQ(v.steps[3].state, "running") << "the job's state, not the flow's phase";
  EXPECT_EQ(v.steps[0].state, "succeeded");
  EXPECT_TRUE(v.steps[0].compensable);
  end("confirm", JobState::kSucceeded, false, R"({"ok":true})");
  // Every job gone (retention): the view goes by the flow's own record.
  v = flow_view(flow, [](const JobId&) -> const JobRecord* { return nullptr; });
  add_flow_results(v, [this](const JobId& id) { return host.result_of(id); });
  EXPECT_EQ(v.state, FlowState::kSucceeded);
  EXPECT_EQ(v.steps[3].state, "succeeded");
  EXPECT_EQ(v.steps[1].result_json, "2");
  EXPECT_EQ(v.result_json, R"({"confirm":{"ok":true}})");
}

}  // namespace
}  // namespace errand
