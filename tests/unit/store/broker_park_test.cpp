// The Broker conformance suite, part 7: parked leases (lease_or_park). A
// long poll that finds nothing waits inside the broker, which leases to it
// in the same durable write that makes a job ready: one write, not two.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "broker_conformance.hpp"

namespace errand::conformance {
namespace {

using Jobs = Result<std::vector<JobView>>;

struct Parked {
  std::uint64_t ticket = 0;
  std::future<Jobs> answer;
  std::shared_ptr<std::atomic<bool>> called = std::make_shared<std::atomic<bool>>(false);
  // Whether the broker has answered (an unparked request's promise breaks
  // instead, which makes the future ready too).
  bool answered() const { return called->load(); }
  Jobs take() {
    if (answer.wait_for(kCallTimeout) != std::future_status::ready) {
      return Status(Code::kInternal, std::string(kTimedOut));
    }
    return answer.get();
  }
};

Parked park_on(Broker& broker, LeaseSpec spec) {
  auto promise = std::make_shared<std::promise<Jobs>>();
  Parked p;
  p.answer = promise->get_future();
  p.ticket = broker.lease_or_park(std::move(spec), [promise, called = p.called](Jobs jobs) {
    called->store(true);
    promise->set_value(std::move(jobs));
  });
  return p;
}

TEST_P(BrokerTest, ParkLeasesAtOnceWhenJobsAreReady) {
  const JobId id = must(submit(job("q", R"({"n":7})")), "submit").job.record.id;
  Parked p = park_on(broker(), lease_spec({"q"}));
  // A store that asks its database first parks anyway (a ticket), then answers.
  auto jobs = must(p.take(), "lease");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].record.id, id);
  EXPECT_EQ(jobs[0].payload_json, R"({"n":7})");
  EXPECT_FALSE(broker().unpark(p.ticket));
}

TEST_P(BrokerTest, ParkAParkedLeaseGetsTheNextJobInTheWriteThatStoresIt) {
  Parked p = park_on(broker(), lease_spec({"q"}));
  ASSERT_NE(p.ticket, 0u);
  EXPECT_FALSE(p.answered());
  auto counter = std::make_optional<CommitCounter>(broker().commits());
  const JobId id = must(submit(job("q", R"({"n":8})")), "submit").job.record.id;
  auto jobs = must(p.take(), "the parked lease");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].record.id, id);
  EXPECT_EQ(jobs[0].payload_json, R"({"n":8})");
  EXPECT_EQ(jobs[0].record.state, JobState::kRunning);
  if (GetParam().hands_off_in_the_same_write) {
    EXPECT_EQ(counter->commits(), 1u) << "the submit and the lease are one durable write";
  }
  counter.reset();  // before the broker it listens to goes
  const JobView stored = must(get(id), "get");
  EXPECT_EQ(stored.record.state, JobState::kRunning);
  EXPECT_EQ(stored.record.lease_token, jobs[0].record.lease_token);
  EXPECT_FALSE(broker().unpark(p.ticket)) << "a granted request is no longer parked";
  // The record as written, not as memory holds it: the lease, not the submit
  // (the embedded store writes a record put twice in one change once).
  reopen();
  const JobView written = must(get(id), "get after a restart");
  EXPECT_EQ(written.record.state, JobState::kRunning);
  EXPECT_EQ(written.record.lease_token, jobs[0].record.lease_token);
  EXPECT_EQ(must(ack(id, jobs[0].record.lease_token), "ack"), JobState::kSucceeded);
}

TEST_P(BrokerTest, ParkAnUnparkedRequestGetsNothing) {
  Parked p = park_on(broker(), lease_spec({"q"}));
  ASSERT_NE(p.ticket, 0u);
  // True: it never answers. False: it was looking for jobs as it was
  // withdrawn, and answers with what it found, here none.
  const bool withdrawn = broker().unpark(p.ticket);
  if (!withdrawn) {
    EXPECT_TRUE(must(p.take(), "the withdrawn lease").empty());
  }
  EXPECT_FALSE(broker().unpark(p.ticket));
  const JobId id = must(submit(job("q")), "submit").job.record.id;
  EXPECT_EQ(must(get(id), "get").record.state, JobState::kQueued);
  if (withdrawn) {
    EXPECT_FALSE(p.answered());
  }
  EXPECT_EQ(must(lease(lease_spec({"q"})), "lease").size(), 1u);
}

TEST_P(BrokerTest, ParkARequestParkedOnSeveralQueuesGetsAJobOfAny) {
  Parked p = park_on(broker(), lease_spec({"a", "b"}));
  ASSERT_NE(p.ticket, 0u);
  must(submit(job("other")), "submit elsewhere");
  EXPECT_FALSE(p.answered());
  const JobId id = must(submit(job("b")), "submit").job.record.id;
  auto jobs = must(p.take(), "the parked lease");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].record.id, id);
}

TEST_P(BrokerTest, ParkOldestParkedFirstEachUpToItsMax) {
  Parked first = park_on(broker(), lease_spec({"q"}, 2));
  Parked second = park_on(broker(), lease_spec({"q"}, 5));
  Parked third = park_on(broker(), lease_spec({"q"}, 5));
  must(submit_batch({job("q"), job("q"), job("q")}), "submit three");
  if (GetParam().hands_off_in_the_same_write) {
    EXPECT_EQ(must(first.take(), "first").size(), 2u);
    EXPECT_EQ(must(second.take(), "second").size(), 1u);
    EXPECT_FALSE(third.answered());
    EXPECT_TRUE(broker().unpark(third.ticket));
    return;
  }
  // A store that claims for a new long poll in a transaction of its own may
  // still be claiming for a younger one when the jobs commit, and that
  // claim may take a job first. What holds even then: each job goes to one
  // of them, none gets more than its max, and the jobs are all delivered.
  struct Expect {
    Parked* parked;
    std::size_t max;
    bool taken = false;
  };
  std::vector<Expect> all{{&first, 2}, {&second, 5}, {&third, 5}};
  std::set<JobId> delivered;
  const auto deadline = std::chrono::steady_clock::now() + kCallTimeout;
  while (delivered.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    for (auto& e : all) {
      if (e.taken || !e.parked->answered()) continue;
      e.taken = true;
      const auto jobs = must(e.parked->take(), "a parked lease");
      EXPECT_LE(jobs.size(), e.max);
      for (const auto& j : jobs) EXPECT_TRUE(delivered.insert(j.record.id).second);
    }
    for (auto& e : all) {
      if (!e.taken) e.parked->answer.wait_for(std::chrono::milliseconds(5));
    }
  }
  EXPECT_EQ(delivered.size(), 3u);
  for (auto& e : all) {
    if (!e.taken && !broker().unpark(e.parked->ticket)) {
      EXPECT_TRUE(must(e.parked->take(), "claiming as it was unparked").empty());
    }
  }
}

TEST_P(BrokerTest, ParkAPausedQueueHandsJobsOverOnlyOnceResumed) {
  must(set_paused("q", true), "pause");
  Parked p = park_on(broker(), lease_spec({"q"}));
  ASSERT_NE(p.ticket, 0u);
  const JobId id = must(submit(job("q")), "submit").job.record.id;
  EXPECT_EQ(must(get(id), "get").record.state, JobState::kQueued);
  EXPECT_FALSE(p.answered());
  must(set_paused("q", false), "resume");
  auto jobs = must(p.take(), "the parked lease");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].record.id, id);
}

TEST_P(BrokerTest, ParkARetriedJobGoesToAParkedLease) {
  must(submit(quick_retry_job("q", 30'000)), "submit");
  auto leased = must(lease(lease_spec({"q"})), "lease");
  ASSERT_EQ(leased.size(), 1u);
  Parked p = park_on(broker(), lease_spec({"q"}));
  ASSERT_NE(p.ticket, 0u);
  must(fail(fail_spec(leased[0], true, 0)), "fail, retry at once");
  auto again = must(p.take(), "the parked lease");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].record.id, leased[0].record.id);
  EXPECT_EQ(again[0].record.attempt, 2);
}

TEST_P(BrokerTest, ParkShutdownAnswersParkedLeases) {
  Parked p = park_on(broker(), lease_spec({"q"}));
  ASSERT_NE(p.ticket, 0u);
  reopen();
  const Jobs answer = p.take();
  EXPECT_EQ(answer.status().code(), Code::kUnavailable) << describe(answer.status());
}

}  // namespace
}  // namespace errand::conformance
