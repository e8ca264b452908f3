// errand::Client against the real server binary: producers, operators, the
// worker calls, event streams and every kind of error.
#include "errand/client.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <future>
#include <set>

#include "errand/worker.hpp"
#include "server_process.hpp"
#include "server_test.hpp"
#include "test_support.hpp"

namespace errand {
namespace {

using namespace std::chrono_literals;
using client_testing::Counter;
using client_testing::Flag;
using client_testing::RunningWorker;

namespace json = boost::json;

json::value parse(const std::string& text) { return json::parse(text); }

class ClientTest : public client_testing::ServerTest {};

TEST_F(ClientTest, SubmitWithoutWorkerAnswersTheQueuedJob) {
  const Job job = client_.submit("orders", R"({"order": 42})");
  EXPECT_FALSE(job.id.empty());
  EXPECT_EQ(job.queue, "orders");
  EXPECT_EQ(job.state, "queued");
  EXPECT_FALSE(job.terminal());
  EXPECT_EQ(parse(job.payload), parse(R"({"order":42})"));
  EXPECT_EQ(parse(job.json).at("id").as_string(), job.id);
  EXPECT_FALSE(job.result.has_value());
}

TEST_F(ClientTest, SubmitSendsItsOptions) {
  SubmitOptions o;
  o.priority = 7;
  o.max_attempts = 3;
  o.idempotency_key = "order-42";
  o.tags = {"web", "eu"};
  o.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const Job job = client_.submit("orders", "[1,2,3]", o);
  const json::object doc = parse(job.json).as_object();
  EXPECT_EQ(doc.at("priority").as_int64(), 7);
  EXPECT_EQ(job.max_attempts, 3);
  EXPECT_EQ(doc.at("idempotency_key").as_string(), "order-42");
  EXPECT_EQ(json::serialize(doc.at("tags")), R"(["web","eu"])");
  EXPECT_EQ(doc.at("traceparent").as_string(), *o.traceparent);
  // The same key again is the same job.
  EXPECT_EQ(client_.submit("orders", "[1,2,3]", o).id, job.id);
}

TEST_F(ClientTest, SubmitWithWaitAnswersTheResultOfARunningWorker) {
  WorkerOptions wo;
  wo.client = options();
  wo.queues = {"echo"};
  RunningWorker worker(wo, [](JobContext& job) { return R"({"echo":)" + job.job().payload + "}"; });
  SubmitOptions o;
  o.wait_seconds = 20;
  const Job job = client_.submit("echo", R"({"n":1})", o);
  EXPECT_EQ(job.state, "succeeded");
  ASSERT_TRUE(job.result.has_value());
  EXPECT_EQ(parse(*job.result), parse(R"({"echo":{"n":1}})"));
  EXPECT_EQ(job.attempt, 1);
}

TEST_F(ClientTest, SubmitBatchAnswersEveryJobInOrder) {
  std::vector<BatchJob> jobs;
  for (int i = 0; i < 3; ++i) jobs.push_back({R"({"i":)" + std::to_string(i) + "}", {}});
  jobs[2].options.priority = 5;
  const auto entries = client_.submit_batch("batch", jobs);
  ASSERT_EQ(entries.size(), 3u);
  std::set<std::string> ids;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].state, "queued");
    ids.insert(entries[i].id);
    EXPECT_EQ(parse(client_.get(entries[i].id).payload), parse(jobs[i].payload));
  }
  EXPECT_EQ(ids.size(), 3u);
  // The priority reached the server: that job is leased first.
  EXPECT_EQ(lease_one("batch").id, entries[2].id);
}

TEST_F(ClientTest, SubmitBatchWithAnInvalidPayloadSendsNothing) {
  std::vector<BatchJob> jobs = {{"{}", {}}, {"{oops", {}}};
  try {
    client_.submit_batch("batch", jobs);
    FAIL() << "expected a usage error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kUsage);
    EXPECT_NE(std::string(e.what()).find("jobs[1]"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(client_.queues().empty());
}

TEST_F(ClientTest, GetWithWaitAnswersOnceTheJobIsTerminal) {
  const Job submitted = client_.submit("orders", "{}");
  // A short wait on a job nobody works on ends with the job as it is.
  EXPECT_EQ(client_.get(submitted.id, 0.2).state, "queued");

  Client waiter(options());
  auto waited = std::async(std::launch::async, [&] { return waiter.get(submitted.id, 20); });
  const LeasedJob leased = lease_one("orders");
  client_.ack(leased.id, leased.lease, R"({"done":true})");
  ASSERT_EQ(waited.wait_for(15s), std::future_status::ready);
  const Job job = waited.get();
  EXPECT_EQ(job.state, "succeeded");
  EXPECT_TRUE(job.terminal());
  EXPECT_EQ(parse(*job.result), parse(R"({"done":true})"));
}

TEST_F(ClientTest, EventsListTheTimeline) {
  const Job job = client_.submit("orders", "{}");
  const LeasedJob leased = lease_one("orders");
  client_.heartbeat(leased.id, leased.lease, Progress{40, "charging", R"({"step":2})"});
  client_.ack(leased.id, leased.lease, "null");

  const auto events = client_.events(job.id);
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(e.type);
  EXPECT_EQ(types, (std::vector<std::string>{"enqueued", "leased", "progress", "succeeded"}));
  EXPECT_EQ(events[2].seq, 3);
  EXPECT_EQ(parse(events[2].json).at("message").as_string(), "charging");
  // A succeeded job always has a result, even a null one.
  EXPECT_EQ(client_.get(job.id).result, std::optional<std::string>("null"));
}

TEST_F(ClientTest, FollowDeliversLiveEventsUntilTheTerminalOne) {
  const Job job = client_.submit("orders", "{}");
  Counter seen;
  std::vector<Event> events;  // written by the follower until it returns
  Client follower(options());
  auto followed = std::async(std::launch::async, [&] {
    return follower.follow(job.id, [&](const Event& e) {
      events.push_back(e);
      seen.add();
      return true;
    });
  });
  ASSERT_TRUE(seen.wait_for(1, 10s));  // the stream is open: "enqueued" came
  const LeasedJob leased = lease_one("orders");
  client_.heartbeat(leased.id, leased.lease, Progress{50, "half", std::nullopt});
  client_.ack(leased.id, leased.lease, "{}");
  ASSERT_EQ(followed.wait_for(15s), std::future_status::ready);
  EXPECT_EQ(followed.get(), 4);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].type, "enqueued");
  EXPECT_EQ(events[2].type, "progress");
  EXPECT_EQ(events[3].type, "succeeded");
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq, std::int64_t(i + 1));
}

TEST_F(ClientTest, FollowStartsAfterTheGivenSequenceAndStopsWhenTold) {
  const Job job = client_.submit("orders", "{}");
  const LeasedJob leased = lease_one("orders");
  client_.ack(leased.id, leased.lease, "{}");

  std::vector<std::string> types;
  EXPECT_EQ(client_.follow(
                job.id,
                [&](const Event& e) {
                  types.push_back(e.type);
                  return true;
                },
                1),
            3);
  EXPECT_EQ(types, (std::vector<std::string>{"leased", "succeeded"}));

  types.clear();
  EXPECT_EQ(client_.follow(job.id,
                           [&](const Event& e) {
                             types.push_back(e.type);
                             return false;
                           }),
            1);
  EXPECT_EQ(types, (std::vector<std::string>{"enqueued"}));

  // Past the terminal event there is nothing more to say.
  EXPECT_EQ(client_.follow(
                job.id, [](const Event&) { return true; }, 3),
            3);
}

TEST_F(ClientTest, FollowResumesAfterTheServerRestarts) {
  const Job job = client_.submit("orders", "{}");
  Counter seen;
  std::vector<Event> events;
  ClientOptions fo = options();
  Client follower(fo);
  auto followed = std::async(std::launch::async, [&] {
    return follower.follow(job.id, [&](const Event& e) {
      events.push_back(e);
      seen.add();
      return true;
    });
  });
  ASSERT_TRUE(seen.wait_for(1, 10s));
  server_.restart();  // kill -9, then the same port and data
  const LeasedJob leased = lease_one("orders");
  client_.ack(leased.id, leased.lease, "{}");
  ASSERT_EQ(followed.wait_for(30s), std::future_status::ready) << server_.log();
  EXPECT_EQ(followed.get(), 3);
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(e.type);
  // Resumed with Last-Event-ID: nothing twice, nothing missed.
  EXPECT_EQ(types, (std::vector<std::string>{"enqueued", "leased", "succeeded"}));
}

TEST_F(ClientTest, CancelCancelsAQueuedJobAndRefusesATerminalOne) {
  const Job job = client_.submit("orders", "{}");
  const Job cancelled = client_.cancel(job.id);
  EXPECT_EQ(cancelled.state, "cancelled");
  try {
    client_.cancel(job.id);
    FAIL() << "cancelling a cancelled job must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kHttp);
    EXPECT_EQ(e.status(), 409);
    EXPECT_FALSE(e.retryable());
  }
}

TEST_F(ClientTest, CancelOfARunningJobReachesItsWorkerByHeartbeat) {
  const Job job = client_.submit("orders", "{}");
  const LeasedJob leased = lease_one("orders");
  EXPECT_FALSE(client_.heartbeat(leased.id, leased.lease).cancel_requested);
  const Job running = client_.cancel(job.id);
  EXPECT_EQ(running.state, "running");
  EXPECT_TRUE(running.cancel_requested);
  EXPECT_TRUE(client_.heartbeat(leased.id, leased.lease).cancel_requested);
  EXPECT_EQ(client_.fail(leased.id, leased.lease, {"stopped", "cancelled"}).state, "cancelled");
}

TEST_F(ClientTest, RetryBringsAFailedJobBack) {
  SubmitOptions o;
  o.max_attempts = 1;
  const Job job = client_.submit("orders", "{}", o);
  const LeasedJob leased = lease_one("orders");
  const FailOutcome out =
      client_.fail(leased.id, leased.lease, {"card declined", "declined", "visa", true});
  EXPECT_EQ(out.state, "failed");
  const Job failed = client_.get(job.id);
  ASSERT_TRUE(failed.error.has_value());
  EXPECT_EQ(parse(*failed.error).at("type").as_string(), "declined");

  EXPECT_EQ(client_.retry(job.id).state, "queued");
  const LeasedJob again = lease_one("orders");
  EXPECT_EQ(again.id, job.id);
  EXPECT_EQ(again.attempt, 1);
}

TEST_F(ClientTest, FailCanAskForALaterRetry) {
  client_.submit("orders", "{}");
  const LeasedJob leased = lease_one("orders");
  FailRequest f;
  f.message = "busy";
  f.retry_in_ms = 60000;
  const FailOutcome out = client_.fail(leased.id, leased.lease, f);
  EXPECT_EQ(out.state, "scheduled");
  EXPECT_TRUE(out.run_at.has_value());
}

TEST_F(ClientTest, JobsFiltersAndPagesAndQueuesCount) {
  client_.submit("alpha", "1");
  client_.submit("alpha", "2");
  const Job beta = client_.submit("beta", "3");
  client_.cancel(beta.id);

  JobFilter f;
  f.queue = "alpha";
  const JobPage all = client_.jobs(f);
  ASSERT_EQ(all.jobs.size(), 2u);
  EXPECT_EQ(all.jobs[0].payload, "2");  // newest first

  f.limit = 1;
  const JobPage first = client_.jobs(f);
  ASSERT_EQ(first.jobs.size(), 1u);
  ASSERT_TRUE(first.next.has_value());
  f.cursor = first.next;
  const JobPage second = client_.jobs(f);
  ASSERT_EQ(second.jobs.size(), 1u);
  EXPECT_EQ(second.jobs[0].payload, "1");

  JobFilter by_state;
  by_state.state = "cancelled";
  const JobPage cancelled = client_.jobs(by_state);
  ASSERT_EQ(cancelled.jobs.size(), 1u);
  EXPECT_EQ(cancelled.jobs[0].id, beta.id);

  const auto queues = client_.queues();
  ASSERT_EQ(queues.size(), 2u);
  const Queue& alpha = queues[0].name == "alpha" ? queues[0] : queues[1];
  EXPECT_EQ(alpha.name, "alpha");
  EXPECT_EQ(alpha.counts.at("queued"), 2);
  EXPECT_EQ(alpha.enqueued_total, 2);
  EXPECT_FALSE(alpha.paused);
}

TEST_F(ClientTest, QueryValuesAreEncoded) {
  JobFilter f;
  f.queue = "a b&c";  // not a queue name: the server must see it whole to refuse it
  try {
    client_.jobs(f);
    FAIL() << "expected a 400";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(std::string(e.what()).find("a b&c"), std::string::npos) << e.what();
  }
}

TEST_F(ClientTest, AckManyReportsEachJob) {
  client_.submit("orders", "1");
  client_.submit("orders", "2");
  LeaseRequest r;
  r.queues = {"orders"};
  r.max = 2;
  const auto leased = client_.lease(r);
  ASSERT_EQ(leased.size(), 2u);
  const auto results = client_.ack_many(
      {{leased[0].id, leased[0].lease, "{}"}, {leased[1].id, "not-the-token", "{}"}});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok);
  EXPECT_FALSE(results[1].ok);
  EXPECT_EQ(results[1].status, 409);
}

TEST_F(ClientTest, UnknownJobIsAnHttp404WithTheProblem) {
  try {
    client_.get("01900000-0000-7000-8000-000000000000");
    FAIL() << "expected a 404";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kHttp);
    EXPECT_EQ(e.status(), 404);
    EXPECT_NE(std::string(e.what()).find("404 Not Found"), std::string::npos) << e.what();
    EXPECT_EQ(parse(e.body()).at("status").as_int64(), 404);
  }
}

TEST_F(ClientTest, StaleLeaseTokenIsAnHttp409) {
  client_.submit("orders", "{}");
  const LeasedJob leased = lease_one("orders");
  try {
    client_.ack(leased.id, "0123456789abcdef0123456789abcdef", "{}");
    FAIL() << "expected a 409";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 409);
  }
}

TEST_F(ClientTest, BadQueueNameInALeaseIsAnHttp400) {
  LeaseRequest r;
  r.queues = {"no spaces allowed"};
  try {
    client_.lease(r);
    FAIL() << "expected a 400";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kHttp);
    EXPECT_EQ(e.status(), 400);
  }
}

TEST_F(ClientTest, InvalidJsonPayloadIsAUsageErrorAndStoresNothing) {
  for (const char* bad : {"{oops", "", "{} {}", "{'a':1}"}) {
    try {
      client_.submit("orders", bad);
      FAIL() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::kUsage) << bad;
      EXPECT_EQ(e.status(), 0);
    }
  }
  JobFilter orders;
  orders.queue = "orders";
  EXPECT_TRUE(client_.jobs(orders).jobs.empty());
  EXPECT_TRUE(client_.queues().empty());
}

TEST_F(ClientTest, JobsWithoutAFilterListsEveryQueue) {
  client_.submit("alpha", "1");
  client_.submit("beta", "2");
  EXPECT_EQ(client_.jobs().jobs.size(), 2u);
}

TEST_F(ClientTest, InvalidJsonResultIsAUsageError) {
  client_.submit("orders", "{}");
  const LeasedJob leased = lease_one("orders");
  try {
    client_.ack(leased.id, leased.lease, "not json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kUsage);
  }
}

TEST(ClientErrors, UnreachableServerIsATransportErrorNamingTheUrl) {
  ClientOptions o;
  o.server = "http://127.0.0.1:" + std::to_string(client_testing::unused_port()) + "/";
  Client client(o);
  try {
    client.submit("orders", "{}");
    FAIL() << "nothing listens there";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kTransport);
    EXPECT_TRUE(e.retryable());
    const std::string url = o.server.substr(0, o.server.size() - 1);
    EXPECT_NE(std::string(e.what()).find("cannot reach errand at " + url + ": "), std::string::npos)
        << e.what();
  }
}

TEST(ClientErrors, ServerUrlWithoutHttpIsAUsageError) {
  ClientOptions o;
  o.server = "127.0.0.1:7400";
  try {
    Client client(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kUsage);
  }
}

TEST_F(ClientTest, StopFlagAbandonsALongPollPromptly) {
  std::atomic<bool> stop{false};
  ClientOptions o = options();
  o.stop = &stop;
  Client poller(o);
  Flag polling;
  auto leased = std::async(std::launch::async, [&] {
    LeaseRequest r;
    r.queues = {"idle"};
    r.wait_seconds = 30;
    polling.set();
    return poller.lease(r);
  });
  ASSERT_TRUE(polling.wait_for(5s));
  // Still polling after a while: the flag interrupts a call in progress, not
  // one about to start.
  ASSERT_EQ(leased.wait_for(300ms), std::future_status::timeout);
  const auto t0 = std::chrono::steady_clock::now();
  stop = true;
  ASSERT_EQ(leased.wait_for(5s), std::future_status::ready);
  const auto took = std::chrono::steady_clock::now() - t0;
  try {
    leased.get();
    FAIL() << "expected kStopped";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kStopped);
  }
  // About 100 ms; generous for sanitizer builds on a busy machine.
  EXPECT_LT(took, 1s);
}

}  // namespace
}  // namespace errand
