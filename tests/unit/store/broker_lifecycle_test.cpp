// The Broker conformance suite, part 3: what outlives a request: restarts,
// retention, waiter notifications and shutdown.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "broker_conformance.hpp"

namespace errand::conformance {
namespace {

using S = JobState;

// ---- Restart ---------------------------------------------------------------------------

TEST_P(BrokerTest, RestartKeepsEveryJobInItsState) {
  SubmitSpec q = keyed("keep", "key-q", R"({"q":1})");
  q.priority = 2;
  q.tags = {"t1"};
  const JobId running = submit_ok(job("keep", R"({"r":1})")).record.id;
  const JobView running_lease = lease_one("keep", 600'000);
  ASSERT_EQ(running_lease.record.id, running);
  const JobId queued = must(submit(q), "submit queued").job.record.id;
  const JobId succeeded = submit_ok(job("done-q")).record.id;
  must(ack(succeeded, lease_one("done-q").record.lease_token, R"({"answer":42})"), "ack");
  SubmitSpec later = job("keep");
  later.run_at = now_millis() + 3'600'000;
  const JobId scheduled = submit_ok(later).record.id;
  SubmitSpec once = job("dead-q");
  once.max_attempts = 1;
  const JobId failed = submit_ok(once).record.id;
  must(fail(fail_spec(lease_one("dead-q"))), "fail");
  must(set_paused("stopped", true), "pause");
  const JobId held = submit_ok(job("stopped")).record.id;
  const auto seq_before = get_ok(running).record.timeline_seq;

  reopen();

  const JobView r = get_ok(running);
  EXPECT_EQ(r.record.state, S::kRunning);
  EXPECT_EQ(r.record.lease_token, running_lease.record.lease_token);
  EXPECT_EQ(r.record.lease_expires_at, running_lease.record.lease_expires_at);
  EXPECT_EQ(r.record.worker, "worker-1");
  EXPECT_EQ(r.payload_json, R"({"r":1})");
  const JobView qv = get_ok(queued);
  EXPECT_EQ(qv.record.state, S::kQueued);
  EXPECT_EQ(qv.record.priority, 2);
  EXPECT_EQ(qv.record.tags, std::vector<std::string>{"t1"});
  EXPECT_EQ(qv.payload_json, R"({"q":1})");
  const JobView sv = get_ok(succeeded);
  EXPECT_EQ(sv.record.state, S::kSucceeded);
  EXPECT_EQ(sv.result_json, R"({"answer":42})");
  EXPECT_EQ(get_ok(scheduled).record.state, S::kScheduled);
  const JobView fv = get_ok(failed);
  EXPECT_EQ(fv.record.state, S::kFailed);
  ASSERT_TRUE(fv.record.error);
  EXPECT_EQ(fv.record.error->message, "boom");

  // Queue state and counters survive too.
  const QueueStats stopped = must(queue("stopped"), "queue stopped");
  EXPECT_TRUE(stopped.paused);
  EXPECT_EQ(count(stopped, S::kQueued), 1);
  EXPECT_TRUE(must(lease(lease_spec({"stopped"})), "lease paused").empty());
  const QueueStats keep = must(queue("keep"), "queue keep");
  EXPECT_EQ(keep.enqueued_total, 3);
  EXPECT_EQ(count(keep, S::kRunning), 1);
  EXPECT_EQ(count(keep, S::kQueued), 1);
  EXPECT_EQ(count(keep, S::kScheduled), 1);
  EXPECT_EQ(must(queue("done-q"), "queue done-q").succeeded_total, 1);
  EXPECT_EQ(must(queue("dead-q"), "queue dead-q").failed_total, 1);

  // The idempotency key still replays, and the old worker's token still works.
  const SubmitOutcome replay = must(submit(q), "replay");
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.job.record.id, queued);
  EXPECT_EQ(must(ack(running, running_lease.record.lease_token), "ack after restart"),
            S::kSucceeded);
  const auto after = must(timeline(running, seq_before), "timeline");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].seq, seq_before + 1) << "timeline numbering continues";
  EXPECT_EQ(lease_one("keep").record.id, queued);
  must(set_paused("stopped", false), "resume");
  EXPECT_EQ(lease_one("stopped").record.id, held);
}

TEST_P(BrokerTest, RestartThenLeaseRunsOutRedeliversAsAttemptTwo) {
  const JobId id = submit_ok(quick_retry_job("crashy", 300)).record.id;
  const JobView first = lease_one("crashy");
  reopen();
  const JobView v = wait_for(
      id, [](const JobView& j) { return j.record.state == S::kQueued && j.record.error; },
      "the lease from before the restart ran out");
  EXPECT_EQ(v.record.error->type, "lease_expired");
  const JobView second = lease_one("crashy");
  EXPECT_EQ(second.record.attempt, 2);
  EXPECT_EQ(ack(id, first.record.lease_token).status().code(), Code::kConflict);
}

TEST_P(BrokerTest, RestartKeepsScheduledTimers) {
  SubmitSpec spec = job("timers");
  spec.run_at = now_millis() + 300;
  const JobId id = submit_ok(spec).record.id;
  reopen();
  wait_for_state(id, S::kQueued);
  EXPECT_EQ(lease_one("timers").record.id, id);
}

TEST_P(BrokerTest, NewIdsAfterRestartSortAfterOldOnes) {
  const JobId before = submit_ok(job("ids")).record.id;
  reopen();
  const JobId after = submit_ok(job("ids")).record.id;
  EXPECT_LT(before, after);
  EXPECT_EQ(lease_one("ids").record.id, before);
}

// ---- Retention ---------------------------------------------------------------------------

TEST_P(BrokerTest, FinishedJobsArePurgedAfterRetentionButFailedJobsStay) {
  StoreOptions short_retention;
  short_retention.retention_ms = 200;
  reopen(short_retention);

  SubmitSpec once = keyed("retain", "key-failed", "1");
  once.max_attempts = 1;
  const JobId failed = submit_ok(once).record.id;
  must(fail(fail_spec(lease_one("retain"))), "fail");
  const JobId succeeded = submit_ok(keyed("retain", "key-succeeded", "2")).record.id;
  must(ack(succeeded, lease_one("retain").record.lease_token, "\"r\""), "ack");
  const JobId cancelled = submit_ok(job("retain")).record.id;
  must(cancel(cancelled), "cancel");
  SubmitSpec late = job("retain");
  late.deadline = now_millis() - 1;
  const JobId expired = submit_ok(late).record.id;
  wait_for_state(expired, S::kExpired);

  wait_until_purged(succeeded);
  wait_until_purged(cancelled);
  wait_until_purged(expired);
  EXPECT_EQ(timeline(succeeded).status().code(), Code::kNotFound);
  // The failed job finished first: its retention ran out too, yet it stays
  // until an operator retries or discards it (SPEC §1 Retention).
  EXPECT_EQ(get_ok(failed).record.state, S::kFailed);
  const QueueStats q = must(queue("retain"), "queue");
  EXPECT_EQ(count(q, S::kSucceeded), 0);
  EXPECT_EQ(count(q, S::kCancelled), 0);
  EXPECT_EQ(count(q, S::kExpired), 0);
  EXPECT_EQ(count(q, S::kFailed), 1);
  EXPECT_EQ(q.enqueued_total, 4) << "totals count history, not retained jobs";

  // A purged job's idempotency key is free again; a retained one's is not.
  EXPECT_FALSE(must(submit(keyed("retain", "key-succeeded", "other")), "reuse key").replayed);
  EXPECT_TRUE(must(submit(keyed("retain", "key-failed", "1")), "replay").replayed);
}

TEST_P(BrokerTest, RestartPurgesJobsWhoseRetentionRanOutWhileClosed) {
  const JobId id = submit_ok(job("retain")).record.id;
  must(ack(id, lease_one("retain").record.lease_token), "ack");
  StoreOptions short_retention;
  short_retention.retention_ms = 1;
  reopen(short_retention);
  wait_until_purged(id);
  EXPECT_TRUE(must(list(ListSpec{}), "list").jobs.empty());
}

// ---- Waiters ------------------------------------------------------------------------------

TEST_P(BrokerTest, SubmitWakesAWaiterOnItsQueue) {
  auto mine = subscribe(broker(), queue_topic("wake"));
  auto other = subscribe(broker(), queue_topic("not-this-one"));
  submit_ok(job("wake"));
  EXPECT_EQ(mine.wait_for(kWaitTimeout), std::future_status::ready);
  EXPECT_NE(other.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
}

TEST_P(BrokerTest, JobBecomingReadyAfterItsDelayWakesAQueueWaiter) {
  SubmitSpec spec = job("wake-later");
  spec.run_at = now_millis() + 200;
  submit_ok(spec);
  auto woken = subscribe(broker(), queue_topic("wake-later"));
  EXPECT_EQ(woken.wait_for(kWaitTimeout), std::future_status::ready);
  EXPECT_EQ(must(lease(lease_spec({"wake-later"})), "lease").size(), 1u);
}

TEST_P(BrokerTest, ResumingAQueueWakesItsWaiters) {
  must(set_paused("wake-resume", true), "pause");
  submit_ok(job("wake-resume"));
  auto woken = subscribe(broker(), queue_topic("wake-resume"));
  must(set_paused("wake-resume", false), "resume");
  EXPECT_EQ(woken.wait_for(kWaitTimeout), std::future_status::ready);
}

TEST_P(BrokerTest, JobChangesWakeItsJobWaiters) {
  const JobId id = submit_ok(job("wake-job")).record.id;
  auto on_lease = subscribe(broker(), job_topic(id));
  const JobView leased = lease_one("wake-job");
  EXPECT_EQ(on_lease.wait_for(kWaitTimeout), std::future_status::ready);
  auto on_ack = subscribe(broker(), job_topic(id));
  must(ack(id, leased.record.lease_token), "ack");
  EXPECT_EQ(on_ack.wait_for(kWaitTimeout), std::future_status::ready);
}

TEST_P(BrokerTest, JobRequeuedAfterAFailedAttemptWakesAQueueWaiter) {
  submit_ok(quick_retry_job("wake-retry", 150));
  const JobView first = lease_one("wake-retry");
  auto on_fail = subscribe(broker(), queue_topic("wake-retry"));
  must(fail(fail_spec(first, true, 0)), "fail");
  EXPECT_EQ(on_fail.wait_for(kWaitTimeout), std::future_status::ready);

  lease_one("wake-retry");
  auto on_expiry = subscribe(broker(), queue_topic("wake-retry"));  // the lease runs out
  EXPECT_EQ(on_expiry.wait_for(kWaitTimeout), std::future_status::ready);
  EXPECT_EQ(lease_one("wake-retry").record.attempt, 3);
}

TEST_P(BrokerTest, AdminRetryWakesAQueueWaiter) {
  const JobId id = submit_ok(job("wake-admin")).record.id;
  must(cancel(id), "cancel");
  auto woken = subscribe(broker(), queue_topic("wake-admin"));
  must(retry(id), "retry");
  EXPECT_EQ(woken.wait_for(kWaitTimeout), std::future_status::ready);
}

TEST_P(BrokerTest, LeaseThatLeavesJobsBehindPassesTheWakeOn) {
  auto first = subscribe(broker(), queue_topic("wake-pass"));
  auto second = subscribe(broker(), queue_topic("wake-pass"));
  must(submit_batch({job("wake-pass"), job("wake-pass")}), "batch");
  EXPECT_EQ(first.wait_for(kWaitTimeout), std::future_status::ready);
  EXPECT_EQ(second.wait_for(kWaitTimeout), std::future_status::ready);
  auto third = subscribe(broker(), queue_topic("wake-pass"));
  lease_one("wake-pass");  // one job is left: another worker should come for it
  EXPECT_EQ(third.wait_for(kWaitTimeout), std::future_status::ready);
}

// ---- Lifecycle ------------------------------------------------------------------------------

TEST_P(BrokerTest, ShutdownIsIdempotent) {
  submit_ok(job("bye"));
  broker().shutdown();
  broker().shutdown();
}

TEST_P(BrokerTest, ShutdownWakesEveryWaiter) {
  auto woken = subscribe(broker(), queue_topic("bye"));
  broker().shutdown();
  EXPECT_EQ(woken.wait_for(kWaitTimeout), std::future_status::ready);
}

// After shutdown() writes are answered with kUnavailable and change nothing
// (the contract: `done` is called exactly once). Reads still work.
TEST_P(BrokerTest, CallsAfterShutdownAreAnsweredWithAnError) {
  const JobId id = submit_ok(job("late")).record.id;
  broker().shutdown();
  EXPECT_EQ(get_ok(id).record.state, S::kQueued);

  constexpr auto kShortTimeout = std::chrono::seconds(2);
  auto submitted = await_result<std::vector<SubmitOutcome>>(
      [&](auto done) { broker().submit({job("late")}, std::move(done)); }, kShortTimeout);
  EXPECT_FALSE(timed_out(submitted.status())) << "submit after shutdown never called back";
  EXPECT_FALSE(submitted.is_ok());
  auto leased = await_result<std::vector<JobView>>(
      [&](auto done) { broker().lease(lease_spec({"late"}), std::move(done)); }, kShortTimeout);
  EXPECT_FALSE(timed_out(leased.status())) << "lease after shutdown never called back";
  EXPECT_FALSE(leased.is_ok());
}

}  // namespace
}  // namespace errand::conformance
