// explain_wait() and WorkerActivity at fixed times: the precedence of the
// reasons, the thresholds' edges and the sentences, without a store or a
// clock (the Broker suite checks the same through a real store).
#include "engine/waiting_on.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace errand {
namespace {

constexpr Millis kNow = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

JobRecord record(JobState state) {
  JobRecord r;
  r.queue = "orders";
  r.state = state;
  r.created_at = kNow - 1000;
  r.run_at = kNow - 1000;
  return r;
}

// Facts of a queue a worker asked for a moment ago.
QueueFacts asked_recently() {
  QueueFacts f;
  f.last_lease_request_at = kNow - 10;
  f.tracking_since = kNow - 3'600'000;
  return f;
}

WaitingOn explain(const JobRecord& r, const QueueFacts& f) {
  auto w = explain_wait(r, f, kNow);
  if (!w) throw std::runtime_error("no waiting_on");
  return *w;
}

TEST(ExplainWait, TerminalJobsWaitOnNothing) {
  for (JobState s :
       {JobState::kSucceeded, JobState::kFailed, JobState::kCancelled, JobState::kExpired}) {
    EXPECT_FALSE(explain_wait(record(s), asked_recently(), kNow)) << to_string(s);
  }
}

TEST(ExplainWait, ScheduledSaysWhenAndHowLongFromNow) {
  JobRecord r = record(JobState::kScheduled);
  r.run_at = kNow + 90'000;
  const WaitingOn w = explain(r, asked_recently());
  EXPECT_EQ(w.reason, WaitReason::kScheduled);
  EXPECT_EQ(w.until, r.run_at);
  EXPECT_EQ(w.message, "scheduled to run at 2027-01-15T08:01:30.000Z (in 90 s)");
}

TEST(ExplainWait, ScheduledAfterAFailedAttemptIsBackoffWithTheShortenedError) {
  JobRecord r = record(JobState::kScheduled);
  r.attempt = 2;
  r.max_attempts = 5;
  r.run_at = kNow;
  r.error = JobError{std::string(300, 'x'), "Timeout", "detail", 2};
  const WaitingOn w = explain(r, asked_recently());
  EXPECT_EQ(w.reason, WaitReason::kBackoff);
  EXPECT_EQ(w.attempt, 2);
  ASSERT_TRUE(w.last_error);
  EXPECT_EQ(w.last_error->message.size(), 300u) << "the field keeps the whole message";
  EXPECT_EQ(w.message,
            "backing off after attempt 2 of 5 failed (Timeout: " + std::string(200, 'x') +
                "\u2026); next attempt at 2027-01-15T08:00:00.000Z (due now)");
}

TEST(ExplainWait, ShortenedErrorNeverSplitsAUtf8Character) {
  JobRecord r = record(JobState::kScheduled);
  r.attempt = 1;
  r.run_at = kNow + 1;
  r.error = JobError{std::string(199, 'x') + "\u00e9\u00e9", "E", "", 1};  // é straddles byte 200
  const WaitingOn w = explain(r, asked_recently());
  EXPECT_NE(w.message.find(std::string(199, 'x') + "\u2026)"), std::string::npos) << w.message;
}

TEST(ExplainWait, RunningBeatsAPausedQueue) {
  JobRecord r = record(JobState::kRunning);
  r.worker = "host-1/42";
  r.attempt = 1;
  r.lease_expires_at = kNow + 30'000;
  r.cancel_requested = true;
  QueueFacts f = asked_recently();
  f.paused = true;
  const WaitingOn w = explain(r, f);
  EXPECT_EQ(w.reason, WaitReason::kRunning);
  EXPECT_EQ(w.worker, "host-1/42");
  EXPECT_EQ(w.until, kNow + 30'000);
  EXPECT_TRUE(w.cancel_requested);
  EXPECT_EQ(w.message,
            "running on worker 'host-1/42' (attempt 1 of 5); its lease expires at "
            "2027-01-15T08:00:30.000Z (in 30 s); cancellation was requested and the worker has "
            "not stopped yet");
}

TEST(ExplainWait, PausedBeatsScheduledBackoffAndNoWorkers) {
  QueueFacts f;  // nobody ever asked, for an hour
  f.tracking_since = kNow - 3'600'000;
  f.paused = true;
  JobRecord scheduled = record(JobState::kScheduled);
  scheduled.run_at = kNow + 5000;
  JobRecord backoff = scheduled;
  backoff.attempt = 1;
  for (const JobRecord& r : {record(JobState::kQueued), scheduled, backoff}) {
    EXPECT_EQ(explain(r, f).reason, WaitReason::kPaused) << to_string(r.state);
  }
  EXPECT_EQ(explain(scheduled, f).message,
            "queue 'orders' is paused: none of its jobs is leased until it is resumed; this one "
            "is due at 2027-01-15T08:00:05.000Z (in 5 s)");
}

TEST(ExplainWait, QueuedCountsAhead) {
  QueueFacts f = asked_recently();
  f.ahead = 0;
  EXPECT_EQ(explain(record(JobState::kQueued), f).message,
            "next in line in queue 'orders', waiting for a worker to take it");
  f.ahead = 1;
  EXPECT_EQ(explain(record(JobState::kQueued), f).message,
            "queued in 'orders' behind 1 job that run first");
  f.ahead = 12'345;
  const WaitingOn w = explain(record(JobState::kQueued), f);
  EXPECT_EQ(w.reason, WaitReason::kQueued);
  EXPECT_EQ(w.ahead, 12'345);
  EXPECT_FALSE(w.ahead_at_least);
}

TEST(ExplainWait, AStoreThatStoppedCountingSaysAtLeast) {
  QueueFacts f = asked_recently();
  f.ahead = 100;
  f.ahead_at_least = true;
  const WaitingOn w = explain(record(JobState::kQueued), f);
  EXPECT_EQ(w.ahead, 100);
  EXPECT_TRUE(w.ahead_at_least);
  EXPECT_EQ(w.message, "queued in 'orders' behind at least 100 jobs that run first");
}

TEST(ExplainWait, NoWorkersOnlyPastTheThreshold) {
  QueueFacts f;
  f.no_worker_after_ms = 30'000;
  f.tracking_since = kNow - 3'600'000;
  f.last_lease_request_at = kNow - 30'000;  // exactly the threshold: not yet
  EXPECT_EQ(explain(record(JobState::kQueued), f).reason, WaitReason::kQueued);
  f.last_lease_request_at = kNow - 30'001;
  const WaitingOn w = explain(record(JobState::kQueued), f);
  EXPECT_EQ(w.reason, WaitReason::kNoWorkers);
  EXPECT_EQ(w.idle_ms, 30'001);
  EXPECT_EQ(w.last_lease_request_at, kNow - 30'001);
  EXPECT_EQ(w.message, "no worker has asked queue 'orders' for jobs for 30 s; it is next in line");
}

TEST(ExplainWait, NoWorkersCountsFromTheStartWhenNobodyEverAsked) {
  QueueFacts f;
  f.tracking_since = kNow - 10'000;
  EXPECT_EQ(explain(record(JobState::kQueued), f).reason, WaitReason::kQueued)
      << "workers get the threshold to come back after a restart";
  f.tracking_since = kNow - 5 * 60'000;
  f.ahead = 3;
  const WaitingOn w = explain(record(JobState::kQueued), f);
  EXPECT_EQ(w.reason, WaitReason::kNoWorkers);
  EXPECT_FALSE(w.last_lease_request_at);
  EXPECT_EQ(w.message,
            "no worker has asked queue 'orders' for jobs since the server started 5 min ago; 3 "
            "jobs ahead of it");
}

TEST(ExplainWait, AnOpenLongPollIsAskingNow) {
  QueueFacts f;
  f.tracking_since = kNow - 3'600'000;
  f.last_lease_request_at = kNow - 3'000'000;  // started long ago, still open
  f.asking_now = true;
  EXPECT_EQ(explain(record(JobState::kQueued), f).reason, WaitReason::kQueued);
}

TEST(ExplainWait, BusyWorkersAreNotMissingWorkers) {
  QueueFacts f;
  f.tracking_since = kNow - 3'600'000;
  f.last_lease_request_at = kNow - 3'000'000;
  f.running = 1;  // a worker holds a job of the queue: it is busy, not gone
  EXPECT_EQ(explain(record(JobState::kQueued), f).reason, WaitReason::kQueued);
}

TEST(WorkerActivity, OpenRequestsAskUntilTheyEnd) {
  WorkerActivity activity(kNow - 60'000);
  const std::vector<std::string> queues = {"a", "b"};
  QueueFacts f;
  activity.describe("a", f);
  EXPECT_FALSE(f.last_lease_request_at);
  EXPECT_FALSE(f.asking_now);
  EXPECT_EQ(f.tracking_since, kNow - 60'000);

  activity.started(queues, kNow - 50'000);
  activity.started({queues.data(), 1}, kNow - 40'000);  // a second poll on "a"
  activity.describe("b", f);
  EXPECT_TRUE(f.asking_now);
  EXPECT_EQ(f.last_lease_request_at, kNow - 50'000);

  activity.ended(queues, kNow - 20'000);
  activity.describe("a", f);
  EXPECT_TRUE(f.asking_now) << "the second poll on a is still open";
  activity.describe("b", f);
  EXPECT_FALSE(f.asking_now);
  EXPECT_EQ(f.last_lease_request_at, kNow - 20'000);

  activity.asked({queues.data() + 1, 1}, kNow - 5'000);
  activity.describe("b", f);
  EXPECT_EQ(f.last_lease_request_at, kNow - 5'000);
}

TEST(WorkerActivity, AskedSinceListsRecentQueuesAndOpenOnesAsNow) {
  WorkerActivity activity(0);
  const std::vector<std::string> open = {"open"}, recent = {"recent"}, old = {"old"};
  activity.asked(old, kNow - 30'000);
  activity.started(open, kNow - 20'000);  // still open
  activity.asked(recent, kNow - 500);
  using Seen = std::vector<std::pair<std::string, Millis>>;
  EXPECT_EQ(activity.asked_since(kNow - 1'000, kNow),
            (Seen{{"open", kNow}, {"recent", kNow - 500}}));
  activity.ended(open, kNow - 100);
  EXPECT_EQ(activity.asked_since(kNow - 1'000, kNow),
            (Seen{{"open", kNow - 100}, {"recent", kNow - 500}}));
  EXPECT_TRUE(activity.asked_since(kNow, kNow + 1).empty());
}

TEST(WorkerActivity, ForgetsTheLongestIdleQueueBeyondItsBound) {
  WorkerActivity activity(0);
  std::vector<std::string> names;
  for (std::size_t i = 0; i <= WorkerActivity::kMaxQueues; ++i)
    names.push_back("q" + std::to_string(i));
  activity.started({names.data(), 1}, 1);  // q0: open, never forgotten
  for (std::size_t i = 1; i < names.size(); ++i)
    activity.asked({&names[i], 1}, static_cast<Millis>(i + 1));
  QueueFacts f;
  activity.describe("q0", f);
  EXPECT_TRUE(f.asking_now);
  activity.describe("q1", f);
  EXPECT_FALSE(f.last_lease_request_at) << "q1 was idle the longest";
  activity.describe(names.back(), f);
  EXPECT_TRUE(f.last_lease_request_at);
}

}  // namespace
}  // namespace errand
