// engine/job_transitions: each change of a job, on a record in memory, with
// what it reports (events, state changes, ready queues). The stores' use of
// them is the conformance suite's business (tests/unit/store).
#include "engine/job_transitions.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace errand {
namespace {

constexpr Millis kNow = 1'800'000'000'000;

struct Recorded final : JobChanges {
  void event(JobRecord& r, Millis, std::string_view type, std::string_view) override {
    ++r.timeline_seq;
    events.emplace_back(type);
  }
  void moved(const JobRecord& r, std::optional<JobState> from, Millis) override {
    moves.push_back({from, r.state});
  }
  void ready(const std::string& queue, std::size_t) override { ready_queues.push_back(queue); }
  std::vector<std::string> events;
  std::vector<std::pair<std::optional<JobState>, JobState>> moves;
  std::vector<std::string> ready_queues;
};

JobRecord running_job(Recorded& c) {
  SubmitSpec s;
  s.queue = "q";
  s.backoff.jitter = 0;
  JobRecord r = new_job(s, JobId{}, kNow, c);
  lease_job(r, "w1", "token", 1000, kNow, c);
  c = Recorded{};
  return r;
}

TEST(JobTransitions, ANewJobIsQueuedOrScheduledByItsRunAt) {
  Recorded c;
  SubmitSpec s;
  s.queue = "q";
  const JobRecord now = new_job(s, JobId{}, kNow, c);
  EXPECT_EQ(now.state, JobState::kQueued);
  EXPECT_EQ(now.run_at, kNow);
  EXPECT_EQ(c.events, (std::vector<std::string>{"enqueued"}));
  EXPECT_EQ(c.ready_queues, (std::vector<std::string>{"q"}));

  Recorded later_c;
  s.run_at = kNow + 5000;
  const JobRecord later = new_job(s, JobId{}, kNow, later_c);
  EXPECT_EQ(later.state, JobState::kScheduled);
  EXPECT_EQ(later_c.events, (std::vector<std::string>{"enqueued", "scheduled"}));
  EXPECT_TRUE(later_c.ready_queues.empty());

  Recorded past_c;
  s.run_at = kNow - 5000;  // in the past: ready now, not back-dated
  EXPECT_EQ(new_job(s, JobId{}, kNow, past_c).run_at, kNow);
}

TEST(JobTransitions, ALeaseStartsAnAttemptWithItsToken) {
  Recorded c;
  SubmitSpec s;
  s.queue = "q";
  JobRecord r = new_job(s, JobId{}, kNow, c);
  lease_job(r, "w1", "t1", 2500, kNow + 10, c);
  EXPECT_EQ(r.state, JobState::kRunning);
  EXPECT_EQ(r.attempt, 1);
  EXPECT_EQ(r.worker, "w1");
  EXPECT_EQ(r.lease_token, "t1");
  EXPECT_EQ(r.lease_expires_at, kNow + 10 + 2500);
  EXPECT_EQ(c.events.back(), "leased");
}

TEST(JobTransitions, AFailedAttemptRetriesBacksOffThenFails) {
  Recorded c;
  JobRecord r = running_job(c);
  r.max_attempts = 2;
  FailOutcome out = fail_attempt(r, {"boom", "E", "", 0}, true, std::nullopt, 0.5, kNow, c);
  EXPECT_EQ(out.state, JobState::kScheduled);
  EXPECT_EQ(out.run_at, kNow + 1000);  // the default backoff's first delay, no jitter
  EXPECT_TRUE(r.lease_token.empty());
  EXPECT_EQ(r.error->attempt, 1);
  EXPECT_EQ(c.events, (std::vector<std::string>{"failed_attempt", "scheduled"}));

  activate_job(r, kNow + 1000, c);
  lease_job(r, "w1", "t2", 1000, kNow + 1000, c);
  c = Recorded{};
  out = fail_attempt(r, {"boom", "E", "", 0}, true, std::nullopt, 0.5, kNow + 2000, c);
  EXPECT_EQ(out.state, JobState::kFailed) << "the last attempt failed";
  EXPECT_EQ(r.finished_at, kNow + 2000);
  EXPECT_EQ(c.events, (std::vector<std::string>{"failed_attempt", "failed"}));
}

TEST(JobTransitions, RetryInZeroQueuesAtOnceAndNoRetryFails) {
  Recorded c;
  JobRecord r = running_job(c);
  EXPECT_EQ(fail_attempt(r, {}, true, 0, 0.5, kNow, c).state, JobState::kQueued);
  EXPECT_EQ(c.ready_queues, (std::vector<std::string>{"q"}));
  Recorded d;
  JobRecord s = running_job(d);
  EXPECT_EQ(fail_attempt(s, {}, false, std::nullopt, 0.5, kNow, d).state, JobState::kFailed);
}

TEST(JobTransitions, CancellingARunningJobAsksItThenItsFailureCancels) {
  Recorded c;
  JobRecord r = running_job(c);
  cancel_job(r, kNow, c);
  EXPECT_EQ(r.state, JobState::kRunning);
  EXPECT_TRUE(r.cancel_requested);
  cancel_job(r, kNow, c);  // asked once
  EXPECT_EQ(c.events, (std::vector<std::string>{"cancel_requested"}));
  EXPECT_EQ(fail_attempt(r, {}, true, std::nullopt, 0.5, kNow, c).state, JobState::kCancelled);
}

TEST(JobTransitions, AHeartbeatRenewsForTheGrantedLeaseOrTheOneAskedFor) {
  Recorded c;
  JobRecord r = running_job(c);
  EXPECT_EQ(heartbeat_job(r, std::nullopt, "", kNow + 500, c).lease_expires_at, kNow + 1500);
  EXPECT_EQ(heartbeat_job(r, 4000, R"({"percent":50})", kNow + 600, c).lease_expires_at,
            kNow + 4600);
  EXPECT_EQ(r.progress_json, R"({"percent":50})");
  EXPECT_EQ(c.events, (std::vector<std::string>{"heartbeat", "progress"}));
}

TEST(JobTransitions, RefusalsNameTheState) {
  Recorded c;
  JobRecord r = running_job(c);
  EXPECT_TRUE(check_cancel(r).is_ok());
  EXPECT_EQ(check_retry(r).code(), Code::kConflict);
  EXPECT_EQ(check_discard(r).code(), Code::kConflict);
  ack_job(r, kNow, c);
  EXPECT_EQ(check_cancel(r).code(), Code::kConflict);
  EXPECT_NE(check_cancel(r).message().find("succeeded"), std::string::npos);
  EXPECT_TRUE(check_discard(r).is_ok());
  EXPECT_EQ(check_retry(r).code(), Code::kConflict) << "a success is not retried";
}

TEST(JobTransitions, AnOperatorRetryStartsAfresh) {
  Recorded c;
  JobRecord r = running_job(c);
  r.deadline = kNow + 10;
  fail_attempt(r, {}, false, std::nullopt, 0.5, kNow, c);
  ASSERT_TRUE(check_retry(r).is_ok());
  retry_job(r, kNow + 50, c);
  EXPECT_EQ(r.state, JobState::kQueued);
  EXPECT_EQ(r.attempt, 0);
  EXPECT_FALSE(r.deadline);
  EXPECT_FALSE(r.finished_at);
}

TEST(JobTransitions, LeaseTokensAreThirtyTwoHexDigitsAndDiffer) {
  std::mt19937_64 rng(7);
  const std::string a = lease_token(rng), b = lease_token(rng);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace errand
