// Flows through the client library against the real server binary: a leased
// step job carries its flow (step, inputs; the step a compensation undoes),
// in Client::lease and in the job a Worker hands its handler; and
// submit_flow, get_flow, cancel_flow and flow_events.
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <map>
#include <mutex>

#include "errand/client.hpp"
#include "errand/worker.hpp"
#include "server_test.hpp"
#include "test_support.hpp"

namespace errand {
namespace {

using namespace std::chrono_literals;
using client_testing::RunningWorker;

namespace json = boost::json;

json::value parse(const std::string& text) { return json::parse(text); }

// a and b at once, then c with both results; a can be undone on "undo".
constexpr const char* kFanIn = R"({"name": "fan-in", "steps": {
  "a": {"queue": "fa", "payload": {"n": 1},
        "compensate": {"queue": "undo", "payload": {"undo": "a"}}},
  "b": {"queue": "fb", "payload": {"n": 2}},
  "c": {"queue": "fc", "payload": {"n": 3}, "after": ["a", "b"]}}})";

class FlowClientTest : public client_testing::ServerTest {
 protected:
  const FlowStep& step(const Flow& f, const std::string& name) {
    for (const auto& s : f.steps) {
      if (s.name == name) return s;
    }
    throw std::runtime_error("no step " + name + " in " + f.json);
  }
};

TEST_F(FlowClientTest, LeasedStepsCarryTheirFlowAndTheResultsTheyWaitedFor) {
  FlowSubmitOptions o;
  o.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const Flow submitted = client_.submit_flow(kFanIn, o);
  EXPECT_EQ(submitted.state, "running");
  EXPECT_FALSE(submitted.terminal());
  EXPECT_EQ(submitted.name, "fan-in");
  ASSERT_EQ(submitted.steps.size(), 3u);
  EXPECT_EQ(submitted.steps[2].name, "c");  // in the order submitted
  EXPECT_EQ(submitted.steps[2].state, "pending");
  EXPECT_FALSE(submitted.steps[2].job);

  const LeasedJob a = lease_one("fa");
  ASSERT_TRUE(a.flow) << a.json;
  EXPECT_EQ(a.flow->id, submitted.id);
  EXPECT_EQ(a.flow->step, "a");
  EXPECT_FALSE(a.flow->compensating);
  EXPECT_EQ(a.flow->inputs_json, "{}");
  EXPECT_EQ(a.traceparent, o.traceparent);
  EXPECT_EQ(step(submitted, "a").job, a.id);
  client_.ack(a.id, a.lease, R"({"hold": "h-1"})");
  const LeasedJob b = lease_one("fb");
  client_.ack(b.id, b.lease, R"([2, 2.50])");

  const LeasedJob c = lease_one("fc");
  ASSERT_TRUE(c.flow);
  EXPECT_EQ(c.flow->step, "c");
  EXPECT_EQ(parse(c.flow->inputs_json), parse(R"({"a": {"hold": "h-1"}, "b": [2, 2.5]})"));
  client_.ack(c.id, c.lease, R"({"done": true})");

  const Flow done = client_.get_flow(submitted.id, 10);
  EXPECT_EQ(done.state, "succeeded");
  EXPECT_TRUE(done.terminal());
  ASSERT_TRUE(done.result);
  EXPECT_EQ(parse(*done.result), parse(R"({"c": {"done": true}})"));
  EXPECT_FALSE(done.error);
  EXPECT_EQ(parse(*step(done, "a").result), parse(R"({"hold": "h-1"})"));
  EXPECT_EQ(step(done, "a").compensation_job, std::nullopt);
  EXPECT_EQ(parse(done.json).at("id").as_string(), done.id);

  // A job outside any flow has none.
  client_.submit("plain", "{}");
  EXPECT_FALSE(lease_one("plain").flow);
}

TEST_F(FlowClientTest, AWorkerHandlerSeesTheStepAndTheCompensationItRuns) {
  std::mutex mutex;
  std::map<std::string, JobFlow> seen;  // by queue
  WorkerOptions wo;
  wo.client = options();
  wo.queues = {"fa", "fb", "undo"};
  wo.concurrency = 2;
  wo.poll_wait_seconds = 5;
  RunningWorker worker(wo, [&](JobContext& ctx) -> std::string {
    const LeasedJob& job = ctx.job();
    if (!job.flow) throw JobFailure("not a flow job", "test", {}, false);
    {
      std::lock_guard lock(mutex);
      seen[job.queue] = *job.flow;
    }
    if (job.queue == "fb") throw JobFailure("b says no", "declined", {}, /*retry=*/false);
    if (job.queue == "undo") return R"({"released": "h-1"})";
    return R"({"hold": "h-1"})";
  });
  // b comes after a, so that a has succeeded (and is undone) when b fails.
  FlowSubmitOptions o;
  o.wait_seconds = 20;
  const Flow f = client_.submit_flow(R"({"steps": {
    "a": {"queue": "fa", "payload": {}, "compensate": {"queue": "undo", "payload": {}}},
    "b": {"queue": "fb", "payload": {}, "after": ["a"]}}})",
                                     o);
  EXPECT_EQ(f.state, "failed") << f.json;
  ASSERT_TRUE(f.error);
  const json::value error = parse(*f.error);
  EXPECT_EQ(error.at("step").as_string(), "b");
  EXPECT_EQ(error.at("type").as_string(), "declined");
  EXPECT_EQ(step(f, "b").state, "failed");
  EXPECT_EQ(step(f, "a").compensation_state, "succeeded");
  ASSERT_TRUE(step(f, "a").compensation_job);

  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.count("undo"), 1u);
  const JobFlow& undo = seen["undo"];
  EXPECT_EQ(undo.id, f.id);
  EXPECT_EQ(undo.step, "a");
  EXPECT_TRUE(undo.compensating);
  EXPECT_EQ(parse(undo.inputs_json), parse(R"({"a": {"hold": "h-1"}})"));
  EXPECT_FALSE(seen["fb"].compensating);
  EXPECT_EQ(parse(seen["fb"].inputs_json), parse(R"({"a": {"hold": "h-1"}})"));
  EXPECT_EQ(client_.get(*step(f, "a").compensation_job).state, "succeeded");
}

TEST_F(FlowClientTest, CancelAndEvents) {
  const Flow f = client_.submit_flow(kFanIn);
  const Flow cancelled = client_.cancel_flow(f.id);
  EXPECT_TRUE(cancelled.state == "cancelled" || cancelled.state == "compensating")
      << cancelled.json;
  EXPECT_EQ(client_.get_flow(f.id, 10).state, "cancelled");
  std::vector<std::string> types;
  for (const auto& e : client_.flow_events(f.id)) types.push_back(e.type);
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types.front(), "started");
  EXPECT_EQ(types.back(), "cancelled");
  try {
    client_.cancel_flow(f.id);
    FAIL() << "cancelling a cancelled flow must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kHttp);
    EXPECT_EQ(e.status(), 409);
  }
}

TEST_F(FlowClientTest, ARefusedFlowIsAnHttp400AndBadJsonIsAUsageError) {
  try {
    client_.submit_flow(R"({"steps": {"a": {"queue": "q", "payload": {}, "after": ["nope"]}}})");
    FAIL() << "an unknown after must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kHttp);
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos) << e.what();
  }
  try {
    client_.submit_flow(R"({"steps": )");
    FAIL() << "a flow that is not JSON must be a usage error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kUsage);
  }
  try {
    client_.get_flow("0190a1b2-0000-7000-8000-000000000000");
    FAIL() << "an unknown flow must be a 404";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 404);
  }
}

}  // namespace
}  // namespace errand
