// errand::Worker against the real server binary: concurrency, heartbeats,
// progress, cancellation, lost leases, graceful stop and a server crash.
#include "errand/worker.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "errand/client.hpp"
#include "server_process.hpp"
#include "test_support.hpp"

namespace errand {
namespace {

using namespace std::chrono_literals;
using client_testing::Counter;
using client_testing::Flag;
using client_testing::LogLines;
using client_testing::RunningWorker;
using client_testing::ServerProcess;

namespace json = boost::json;

class WorkerTest : public ::testing::Test {
 protected:
  ClientOptions client_options() const {
    ClientOptions o;
    o.server = server_.url();
    return o;
  }

  WorkerOptions worker_options(std::vector<std::string> queues = {"jobs"}) {
    WorkerOptions o;
    o.client = client_options();
    o.queues = std::move(queues);
    o.name = "test-worker";
    o.poll_wait_seconds = 5;
    o.reconnect_initial = 50ms;
    o.reconnect_max = 200ms;
    o.log = [this](std::string_view line) { log_.add(line); };
    return o;
  }

  Job submit_and_wait(std::string_view payload, SubmitOptions o = {}) {
    o.wait_seconds = 30;
    const Job job = client_.submit("jobs", payload, o);
    return job.terminal() ? job : client_.get(job.id, 30);
  }

  ServerProcess server_;
  Client client_{client_options()};
  LogLines log_;
};

TEST_F(WorkerTest, RunsConcurrencyHandlersAtOnce) {
  WorkerOptions o = worker_options();
  o.concurrency = 3;
  Counter running;
  RunningWorker worker(o, [&](JobContext&) -> std::string {
    running.add();
    // Only returns once all three run side by side.
    if (!running.wait_for(3, 20s)) throw JobFailure("the handlers did not run at once");
    return "true";
  });
  const auto entries = client_.submit_batch("jobs", {{"1", {}}, {"2", {}}, {"3", {}}});
  for (const auto& e : entries) EXPECT_EQ(client_.get(e.id, 30).state, "succeeded");
  worker.worker().stop();
  ASSERT_TRUE(worker.returned_within(10s));
  EXPECT_EQ(worker.worker().stats().succeeded, 3u);
  EXPECT_EQ(worker.worker().stats().failed, 0u);
}

TEST_F(WorkerTest, HeartbeatsKeepAShortLeaseAlive) {
  WorkerOptions o = worker_options();
  o.lease = 1000ms;
  RunningWorker worker(o, [](JobContext& job) {
    // Longer than two leases; neither cancelled nor lost meanwhile.
    if (job.wait_for_cancel(2500ms)) throw JobFailure("woken early");
    return std::string(R"({"slow":true})");
  });
  const Job job = submit_and_wait("{}");
  EXPECT_EQ(job.state, "succeeded") << job.json;
  EXPECT_EQ(job.attempt, 1);
  int heartbeats = 0;
  for (const auto& e : client_.events(job.id)) {
    EXPECT_NE(e.type, "failed_attempt") << e.json;
    heartbeats += e.type == "heartbeat";
  }
  EXPECT_GE(heartbeats, 2);
}

TEST_F(WorkerTest, ProgressIsVisibleOnTheJobAtOnce) {
  Flag release;
  RunningWorker worker(worker_options(), [&](JobContext& job) {
    job.progress(50, "half way", R"({"step":2})");
    release.wait_for(20s);
    return std::string("{}");
  });
  const Job job = client_.submit("jobs", "{}");
  // The default heartbeat interval is 10 s: seeing it now means progress()
  // sent its own heartbeat.
  bool seen = false;
  client_.follow(job.id, [&](const Event& e) {
    seen = e.type == "progress";
    return !seen;
  });
  ASSERT_TRUE(seen);
  const Job running = client_.get(job.id);
  ASSERT_TRUE(running.progress.has_value());
  const json::object p = json::parse(*running.progress).as_object();
  EXPECT_EQ(p.at("percent").to_number<double>(), 50);
  EXPECT_EQ(p.at("message").as_string(), "half way");
  EXPECT_EQ(json::serialize(p.at("data")), R"({"step":2})");
  release.set();
  EXPECT_EQ(client_.get(job.id, 30).state, "succeeded");
}

TEST_F(WorkerTest, EveryProgressReportReachesTheTimelineBeforeTheOutcome) {
  RunningWorker worker(worker_options(), [](JobContext& job) {
    job.progress(10, "reserving stock");
    job.progress(60, "charging the card");
    job.progress(90, "confirming");
    return std::string("{}");
  });
  const Job job = submit_and_wait("{}");
  ASSERT_EQ(job.state, "succeeded");
  std::vector<std::string> seen;
  for (const auto& e : client_.events(job.id)) {
    if (e.type == "progress")
      seen.push_back(std::string(json::parse(e.json).at("message").as_string()));
    if (e.type == "succeeded") seen.push_back("succeeded");
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"reserving stock", "charging the card", "confirming",
                                            "succeeded"}));
}

TEST_F(WorkerTest, HandlerSeesACancellation) {
  WorkerOptions o = worker_options();
  o.lease = 1500ms;  // heartbeats every 500 ms
  Flag started;
  std::atomic<bool> woken{false};
  std::atomic<bool> saw_cancel{false};
  RunningWorker worker(o, [&](JobContext& job) -> std::string {
    started.set();
    woken = job.wait_for_cancel(20s);
    saw_cancel = job.cancel_requested();
    throw JobFailure("cancelled on request", "cancelled");
  });
  const Job job = client_.submit("jobs", "{}");
  ASSERT_TRUE(started.wait_for(10s));
  EXPECT_TRUE(client_.cancel(job.id).cancel_requested);
  EXPECT_EQ(client_.get(job.id, 30).state, "cancelled");
  EXPECT_TRUE(woken);
  EXPECT_TRUE(saw_cancel);
}

TEST_F(WorkerTest, AStaleLeaseIsCountedAsLost) {
  WorkerOptions o = worker_options();
  o.lease = 300ms;
  o.heartbeat_interval = 1h;  // no heartbeat will save this lease
  Flag started;
  Flag release;
  RunningWorker worker(o, [&](JobContext&) {
    started.set();
    release.wait_for(20s);
    return std::string(R"({"by":"first"})");
  });
  SubmitOptions so;
  so.backoff = BackoffPolicy{0, std::nullopt, std::nullopt, 0.0};  // retry at once
  const Job job = client_.submit("jobs", "{}", so);
  ASSERT_TRUE(started.wait_for(10s));

  // The worker is busy (concurrency 1) and does not poll: the re-leased job
  // can only come here.
  LeaseRequest r;
  r.queues = {"jobs"};
  r.worker = "second";
  r.wait_seconds = 10;
  const auto second = client_.lease(r);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].id, job.id);
  EXPECT_EQ(second[0].attempt, 2);

  release.set();
  ASSERT_TRUE(log_.wait_for("lease was lost", 10s)) << log_.all();
  EXPECT_EQ(worker.worker().stats().lease_lost, 1u);
  EXPECT_EQ(worker.worker().stats().succeeded, 0u);
  client_.ack(second[0].id, second[0].lease, R"({"by":"second"})");
  EXPECT_EQ(*client_.get(job.id).result, R"({"by":"second"})");
}

TEST_F(WorkerTest, StopLetsTheRunningHandlerFinishAndAcks) {
  Flag started;
  Flag release;
  std::atomic<bool> saw_stopping{false};
  RunningWorker worker(worker_options(), [&](JobContext& job) {
    started.set();
    release.wait_for(20s);
    saw_stopping = job.stopping();
    return std::string(R"({"finished":true})");
  });
  const Job job = client_.submit("jobs", "{}");
  ASSERT_TRUE(started.wait_for(10s));
  worker.worker().stop();
  EXPECT_FALSE(worker.returned_within(300ms)) << "run() returned while a handler ran";
  release.set();
  ASSERT_TRUE(worker.returned_within(10s));
  EXPECT_FALSE(worker.error());
  EXPECT_TRUE(saw_stopping);
  EXPECT_EQ(worker.worker().stats().succeeded, 1u);
  const Job done = client_.get(job.id);
  EXPECT_EQ(done.state, "succeeded");
  EXPECT_EQ(*done.result, R"({"finished":true})");
}

TEST_F(WorkerTest, StopEndsAnIdleLongPollPromptly) {
  WorkerOptions o = worker_options();
  o.poll_wait_seconds = 30;
  RunningWorker worker(o, [](JobContext&) { return std::string("{}"); });
  // Still polling after a while: stop must cut a poll in progress short.
  ASSERT_FALSE(worker.returned_within(300ms));
  const auto t0 = std::chrono::steady_clock::now();
  worker.worker().stop();
  ASSERT_TRUE(worker.returned_within(5s));
  // About 100 ms; generous for sanitizer builds on a busy machine.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_FALSE(worker.error());
}

TEST_F(WorkerTest, FailuresAreReportedWithTheirType) {
  RunningWorker worker(worker_options(), [](JobContext& job) -> std::string {
    if (job.job().payload == R"("declined")") {
      throw JobFailure("card declined", "declined", "visa", /*retry=*/false);
    }
    if (job.job().payload == R"("not json")") return "this is not JSON";
    throw std::runtime_error("boom");
  });
  const Job declined = submit_and_wait(R"("declined")");
  EXPECT_EQ(declined.state, "failed");
  EXPECT_EQ(json::parse(*declined.error).at("type").as_string(), "declined");
  EXPECT_EQ(declined.attempt, 1);

  SubmitOptions once;
  once.max_attempts = 1;
  const Job boom = submit_and_wait(R"("boom")", once);
  EXPECT_EQ(boom.state, "failed");
  const json::object error = json::parse(*boom.error).as_object();
  EXPECT_EQ(error.at("type").as_string(), "exception");
  EXPECT_EQ(error.at("message").as_string(), "boom");

  const Job bad = submit_and_wait(R"("not json")", once);
  EXPECT_EQ(json::parse(*bad.error).at("type").as_string(), "invalid_result");
}

TEST_F(WorkerTest, SurvivesAServerCrashAndRestart) {
  RunningWorker worker(worker_options(),
                       [](JobContext& job) { return R"({"echo":)" + job.job().payload + "}"; });
  EXPECT_EQ(submit_and_wait("1").state, "succeeded");

  server_.kill();
  ASSERT_TRUE(log_.wait_for(server_.url(), 10s)) << log_.all();
  server_.restart();

  const Job after = submit_and_wait("2");
  EXPECT_EQ(after.state, "succeeded");
  EXPECT_EQ(*after.result, R"({"echo":2})");
  // Logged once when it went away, once when it came back.
  EXPECT_TRUE(log_.wait_for("answers again", 10s)) << log_.all();
  EXPECT_EQ(log_.count(server_.url()), 2) << log_.all();
  EXPECT_FALSE(worker.returned_within(0ms));
}

TEST_F(WorkerTest, RunThrowsOnABadQueueName) {
  RunningWorker worker(worker_options({"no spaces"}), [](JobContext&) { return std::string(); });
  ASSERT_TRUE(worker.returned_within(10s));
  ASSERT_TRUE(worker.error());
  try {
    std::rethrow_exception(worker.error());
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kHttp);
    EXPECT_EQ(e.status(), 400);
  }
}

TEST(WorkerOptionsCheck, RunThrowsWithoutQueues) {
  Worker worker(WorkerOptions{}, [](JobContext&) { return std::string(); });
  try {
    worker.run();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kUsage);
  }
}

}  // namespace
}  // namespace errand
