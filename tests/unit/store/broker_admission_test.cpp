// The Broker conformance suite, part 6: admission control. A queue's
// max_queued refuses submits past it (kResourceExhausted), counting queued and
// scheduled jobs but not running ones; batches are all or nothing; replays
// and flow steps pass; the limit is stored with the queue.
#include <gtest/gtest.h>

#include "broker_conformance.hpp"

namespace errand::conformance {
namespace {

using S = JobState;

SubmitSpec later(std::string queue) {
  SubmitSpec s = job(std::move(queue));
  s.run_at = now_millis() + 600'000;
  return s;
}

TEST_P(BrokerTest, MaxQueuedRefusesSubmitsPastItAndStoresNothing) {
  const QueueStats set = must(configure_queue("adm", {.max_queued = 2}), "configure");
  EXPECT_EQ(set.max_queued, 2);
  submit_ok(job("adm"));
  submit_ok(later("adm"));  // scheduled jobs count too
  const auto refused = submit(job("adm"));
  EXPECT_EQ(refused.status().code(), Code::kResourceExhausted);
  const QueueStats q = must(queue("adm"), "queue");
  EXPECT_EQ(q.enqueued_total, 2);
  EXPECT_EQ(count(q, S::kQueued) + count(q, S::kScheduled), 2);
}

TEST_P(BrokerTest, MaxQueuedDoesNotCountRunningJobs) {
  must(configure_queue("adm", {.max_queued = 1}), "configure");
  submit_ok(job("adm"));
  lease_one("adm");
  submit_ok(job("adm"));
  EXPECT_EQ(submit(job("adm")).status().code(), Code::kResourceExhausted);
}

TEST_P(BrokerTest, MaxQueuedRefusesABatchThatDoesNotFitWhole) {
  must(configure_queue("adm", {.max_queued = 3}), "configure");
  submit_ok(job("adm"));
  EXPECT_EQ(submit_batch({job("adm"), job("adm"), job("adm")}).status().code(),
            Code::kResourceExhausted);
  EXPECT_EQ(count(must(queue("adm"), "queue"), S::kQueued), 1);
  must(submit_batch({job("adm"), job("adm")}), "a batch that fits");
}

TEST_P(BrokerTest, MaxQueuedLetsReplaysAndFlowStepsThrough) {
  must(configure_queue("adm", {.max_queued = 1}), "configure");
  const JobId id = must(submit(keyed("adm", "k", "1")), "keyed").job.record.id;
  const SubmitOutcome again = must(submit(keyed("adm", "k", "1")), "replay when full");
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.job.record.id, id);
  FlowSpec flow;
  FlowStepSpec step;
  step.name = "only";
  step.job = job("adm");
  flow.steps.push_back(std::move(step));
  must(submit_flow(std::move(flow)), "a flow's step is not refused");
  EXPECT_EQ(count(must(queue("adm"), "queue"), S::kQueued), 2);
}

TEST_P(BrokerTest, MaxQueuedIsStoredAndZeroRemovesIt) {
  must(configure_queue("adm", {.max_queued = 5}), "configure");
  reopen();
  EXPECT_EQ(must(queue("adm"), "queue after restart").max_queued, 5);
  // A change without max_queued leaves it as it is.
  EXPECT_EQ(must(configure_queue("adm", {}), "no change").max_queued, 5);
  EXPECT_FALSE(must(configure_queue("adm", {.max_queued = 0}), "remove").max_queued);
  reopen();
  EXPECT_FALSE(must(queue("adm"), "queue after restart").max_queued);
}

}  // namespace
}  // namespace errand::conformance
