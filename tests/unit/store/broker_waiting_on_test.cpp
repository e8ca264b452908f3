// The Broker conformance suite, part 4: waiting_on, why a job is not finished
// yet (docs/api.md "waiting_on"). One test per reason, then precedence and the
// answers that carry it. Written against the Broker interface alone.
//
// The broker reads the wall clock; the no_workers tests open the store with a
// short threshold and wait for the condition with a deadline (poll_until).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "broker_conformance.hpp"

namespace errand::conformance {
namespace {

using S = JobState;
using R = WaitReason;

constexpr Millis kShortThreshold = 200;  // ms without a lease request: no_workers

// The job's waiting_on; throws when it has none.
WaitingOn waiting_on(Broker& broker, const JobId& id) {
  const JobView v =
      must(await_result<JobView>([&](auto done) { broker.get(id, std::move(done)); }), "get");
  if (!v.waiting_on) {
    throw std::runtime_error("job " + id.to_string() + " (" +
                             std::string(to_string(v.record.state)) + ") has no waiting_on");
  }
  return *v.waiting_on;
}

// Re-reads the job until its waiting_on has `reason`. Nothing notifies the
// passing of time without a worker, so this polls, with a deadline.
WaitingOn poll_until(Broker& broker, const JobId& id, R reason) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
  for (;;) {
    const JobView v =
        must(await_result<JobView>([&](auto done) { broker.get(id, std::move(done)); }), "get");
    if (v.waiting_on && v.waiting_on->reason == reason) return *v.waiting_on;
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error(
          "timed out waiting for waiting_on " + std::string(to_string(reason)) + "; it is " +
          (v.waiting_on ? std::string(to_string(v.waiting_on->reason)) : std::string("none")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Sleeps until the wall clock has passed `t`.
void sleep_past(Millis t) {
  while (now_millis() <= t) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

StoreOptions short_threshold() {
  StoreOptions options;
  options.no_worker_after_ms = kShortThreshold;
  return options;
}

// ---- One reason each ------------------------------------------------------------

TEST_P(BrokerTest, WaitingOnDelayedJobWaitsScheduledUntilItsRunAt) {
  SubmitSpec spec = job("wo-scheduled");
  const Millis run_at = now_millis() + 60'000;
  spec.run_at = run_at;
  const JobView submitted = submit_ok(spec);

  const WaitingOn w = waiting_on(broker(), submitted.record.id);
  EXPECT_EQ(w.reason, R::kScheduled);
  EXPECT_EQ(w.until, run_at);
  EXPECT_NE(w.message.find("scheduled to run at " + format_rfc3339(run_at)), std::string::npos)
      << w.message;
}

TEST_P(BrokerTest, WaitingOnRetriedJobWaitsBackoffWithTheFailedAttemptAndItsError) {
  SubmitSpec spec = job("wo-backoff");
  spec.backoff.initial_ms = 60'000;
  spec.backoff.jitter = 0;
  spec.max_attempts = 3;
  const JobView submitted = submit_ok(spec);
  const JobView leased = lease_one("wo-backoff");
  const FailOutcome out = must(fail(fail_spec(leased)), "fail");
  ASSERT_EQ(out.state, S::kScheduled);

  const WaitingOn w = waiting_on(broker(), submitted.record.id);
  EXPECT_EQ(w.reason, R::kBackoff);
  EXPECT_EQ(w.attempt, 1);
  EXPECT_EQ(w.max_attempts, 3);
  EXPECT_EQ(w.until, out.run_at);
  ASSERT_TRUE(w.last_error);
  EXPECT_EQ(w.last_error->message, "boom");
  EXPECT_EQ(w.last_error->type, "RuntimeError");
  EXPECT_NE(w.message.find("after attempt 1 of 3 failed (RuntimeError: boom)"), std::string::npos)
      << w.message;
}

TEST_P(BrokerTest, WaitingOnJobOfAPausedQueueWaitsPaused) {
  const JobView submitted = submit_ok(job("wo-paused"));
  must(set_paused("wo-paused", true), "pause");

  const WaitingOn w = waiting_on(broker(), submitted.record.id);
  EXPECT_EQ(w.reason, R::kPaused);
  EXPECT_EQ(w.queue, "wo-paused");
  EXPECT_NE(w.message.find("'wo-paused' is paused"), std::string::npos) << w.message;

  must(set_paused("wo-paused", false), "resume");
  EXPECT_EQ(waiting_on(broker(), submitted.record.id).reason, R::kQueued);
}

TEST_P(BrokerTest, WaitingOnQueuedJobCountsTheReadyJobsLeasedBeforeIt) {
  // Lease order: priority 5 first (b, d), then 0 (a, c), each FIFO.
  std::map<std::string, JobId> ids;
  for (const auto& [name, priority] :
       std::vector<std::pair<std::string, int>>{{"a", 0}, {"b", 5}, {"c", 0}, {"d", 5}}) {
    SubmitSpec spec = job("wo-queued", R"({"name":")" + name + "\"}");
    spec.priority = priority;
    ids[name] = submit_ok(spec).record.id;
  }
  const std::map<std::string, std::int64_t> expected = {{"b", 0}, {"d", 1}, {"a", 2}, {"c", 3}};
  for (const auto& [name, ahead] : expected) {
    const WaitingOn w = waiting_on(broker(), ids[name]);
    EXPECT_EQ(w.reason, R::kQueued) << name;
    EXPECT_EQ(w.ahead, ahead) << name;
  }
  EXPECT_NE(waiting_on(broker(), ids["a"]).message.find("behind 2 jobs"), std::string::npos);
  EXPECT_NE(waiting_on(broker(), ids["b"]).message.find("next in line"), std::string::npos);

  // Leasing the first one moves everyone up.
  EXPECT_EQ(lease_one("wo-queued").record.id, ids["b"]);
  EXPECT_EQ(waiting_on(broker(), ids["c"]).ahead, 2);
}

TEST_P(BrokerTest, WaitingOnQueuedJobWaitsNoWorkersWhenNobodyAskedForItsQueue) {
  reopen(short_threshold());
  const JobView submitted = submit_ok(job("wo-idle"));

  const WaitingOn w = poll_until(broker(), submitted.record.id, R::kNoWorkers);
  EXPECT_GT(w.idle_ms, kShortThreshold);
  EXPECT_FALSE(w.last_lease_request_at) << "no worker ever asked";
  EXPECT_EQ(w.ahead, 0);
  EXPECT_NE(w.message.find("no worker has asked queue 'wo-idle'"), std::string::npos) << w.message;
}

TEST_P(BrokerTest, WaitingOnALeaseRequestMakesTheQueueAskedForAgain) {
  reopen(short_threshold());
  const JobView first = submit_ok(job("wo-asked"));
  const JobView second = submit_ok(job("wo-asked"));
  poll_until(broker(), second.record.id, R::kNoWorkers);

  const Millis before = now_millis();
  const JobView leased = lease_one("wo-asked");
  EXPECT_EQ(leased.record.id, first.record.id);
  const WaitingOn right_after = waiting_on(broker(), second.record.id);
  if (now_millis() - before < kShortThreshold) {  // else the machine stalled past the threshold
    EXPECT_EQ(right_after.reason, R::kQueued);
    EXPECT_EQ(right_after.ahead, 0);
  }
  // While its worker holds a job of the queue, the queue has a (busy) worker.
  must(ack(leased.record.id, leased.record.lease_token), "ack");

  const WaitingOn w = poll_until(broker(), second.record.id, R::kNoWorkers);
  ASSERT_TRUE(w.last_lease_request_at);
  EXPECT_GE(*w.last_lease_request_at, before);
}

TEST_P(BrokerTest, WaitingOnAnOpenLongPollCountsAsAsking) {
  reopen(short_threshold());
  const std::vector<std::string> queues = {"wo-polled"};
  broker().lease_request_started(queues);
  const JobView submitted = submit_ok(job("wo-polled"));
  sleep_past(now_millis() + 2 * kShortThreshold);
  EXPECT_EQ(waiting_on(broker(), submitted.record.id).reason, R::kQueued)
      << "a worker waiting in a long poll is asking";

  broker().lease_request_ended(queues);
  const WaitingOn w = poll_until(broker(), submitted.record.id, R::kNoWorkers);
  EXPECT_TRUE(w.last_lease_request_at) << "the long poll's end is the last request";
}

TEST_P(BrokerTest, WaitingOnLeasedJobWaitsRunningOnItsWorker) {
  const JobView submitted = submit_ok(job("wo-running"));
  const JobView leased = lease_one("wo-running", 60'000);

  WaitingOn w = waiting_on(broker(), submitted.record.id);
  EXPECT_EQ(w.reason, R::kRunning);
  EXPECT_EQ(w.worker, "worker-1");
  EXPECT_EQ(w.until, leased.record.lease_expires_at);
  EXPECT_EQ(w.attempt, 1);
  EXPECT_FALSE(w.cancel_requested);
  EXPECT_NE(w.message.find("running on worker 'worker-1'"), std::string::npos) << w.message;

  const JobView cancelled = must(cancel(submitted.record.id), "cancel");
  ASSERT_TRUE(cancelled.waiting_on) << "the cancel answer carries waiting_on";
  EXPECT_EQ(cancelled.waiting_on->reason, R::kRunning);
  EXPECT_TRUE(cancelled.waiting_on->cancel_requested);
  EXPECT_NE(cancelled.waiting_on->message.find("cancellation was requested"), std::string::npos);
}

TEST_P(BrokerTest, WaitingOnFinishedJobsWaitOnNothing) {
  const JobView a = submit_ok(job("wo-done"));
  const JobView leased = lease_one("wo-done");
  must(ack(leased.record.id, leased.record.lease_token), "ack");
  EXPECT_FALSE(get_ok(a.record.id).waiting_on);

  const JobView b = submit_ok(job("wo-done"));
  const JobView cancelled = must(cancel(b.record.id), "cancel");
  EXPECT_EQ(cancelled.record.state, S::kCancelled);
  EXPECT_FALSE(cancelled.waiting_on);
}

// ---- Precedence and the answers that carry it -------------------------------------

TEST_P(BrokerTest, WaitingOnBusyWorkersAreNotMissingWorkers) {
  reopen(short_threshold());
  submit_ok(job("wo-busy"));
  const JobView waiting = submit_ok(job("wo-busy"));
  const JobView leased = lease_one("wo-busy", 60'000);
  sleep_past(now_millis() + 2 * kShortThreshold);
  EXPECT_EQ(waiting_on(broker(), waiting.record.id).reason, R::kQueued)
      << "a worker holding a job of the queue is busy, not gone";
  must(ack(leased.record.id, leased.record.lease_token), "ack");
  poll_until(broker(), waiting.record.id, R::kNoWorkers);
}

TEST_P(BrokerTest, WaitingOnPausedBeatsScheduledAndNoWorkers) {
  reopen(short_threshold());
  SubmitSpec later = job("wo-prec");
  later.run_at = now_millis() + 60'000;
  const JobView scheduled = submit_ok(later);
  const JobView ready = submit_ok(job("wo-prec"));
  poll_until(broker(), ready.record.id, R::kNoWorkers);

  must(set_paused("wo-prec", true), "pause");
  EXPECT_EQ(waiting_on(broker(), scheduled.record.id).reason, R::kPaused);
  EXPECT_EQ(waiting_on(broker(), ready.record.id).reason, R::kPaused);
}

TEST_P(BrokerTest, WaitingOnSubmitRetryAndListAnswersCarryWaitingOn) {
  const SubmitOutcome out = must(submit(job("wo-answers")), "submit");
  ASSERT_TRUE(out.job.waiting_on);
  EXPECT_EQ(out.job.waiting_on->reason, R::kQueued);

  const JobView cancelled = must(cancel(out.job.record.id), "cancel");
  EXPECT_FALSE(cancelled.waiting_on);
  const JobView retried = must(retry(out.job.record.id), "retry");
  ASSERT_TRUE(retried.waiting_on);
  EXPECT_EQ(retried.waiting_on->reason, R::kQueued);

  ListSpec spec;
  spec.queue = "wo-answers";
  const JobPage page = must(list(spec), "list");
  ASSERT_EQ(page.jobs.size(), 1u);
  ASSERT_TRUE(page.jobs[0].waiting_on);
  EXPECT_EQ(page.jobs[0].waiting_on->reason, R::kQueued);
}

}  // namespace
}  // namespace errand::conformance
