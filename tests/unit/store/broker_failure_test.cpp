// The Broker conformance suite, part 2: what happens when work goes wrong:
// failed attempts and backoff, lease expiry, heartbeats, the bounded
// timeline, cancellation, operator retry and discard, deadlines.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <string>
#include <vector>

#include "broker_conformance.hpp"
#include "core/time.hpp"

namespace errand::conformance {
namespace {

using S = JobState;

// ---- Fail and retries ------------------------------------------------------------

TEST_P(BrokerTest, FailWithRetryIsScheduledAfterBackoffThenLeasedAsAttemptTwo) {
  SubmitSpec spec = job("flaky");
  spec.backoff.initial_ms = 300;
  spec.backoff.jitter = 0;
  const JobId id = submit_ok(spec).record.id;
  const JobView first = lease_one("flaky");

  const Millis before = now_millis();
  const FailOutcome out = must(fail(fail_spec(first)), "fail");
  const Millis after = now_millis();
  EXPECT_EQ(out.state, S::kScheduled);
  ASSERT_TRUE(out.run_at);
  EXPECT_GE(*out.run_at, before + 300);
  EXPECT_LE(*out.run_at, after + 300);

  const JobView v = get_ok(id);
  EXPECT_TRUE(v.record.state == S::kScheduled || now_millis() >= *out.run_at);
  ASSERT_TRUE(v.record.error);
  EXPECT_EQ(v.record.error->message, "boom");
  EXPECT_EQ(v.record.error->type, "RuntimeError");
  EXPECT_EQ(v.record.error->detail, "stack trace");
  EXPECT_EQ(v.record.error->attempt, 1);
  EXPECT_TRUE(v.record.lease_token.empty());
  for (const auto& j : must(lease(lease_spec({"flaky"})), "early lease")) {
    EXPECT_GE(*j.record.started_at, *out.run_at) << "leased before its backoff ran out";
  }

  wait_for_state(id, S::kQueued);
  const JobView second = lease_one("flaky");
  EXPECT_EQ(second.record.id, id);
  EXPECT_EQ(second.record.attempt, 2);
  EXPECT_GE(*second.record.started_at, *out.run_at);

  const auto events = must(timeline(id), "timeline");
  const auto failed = find_event(events, "failed_attempt");
  EXPECT_EQ(failed.at("attempt").to_number<int>(), 1);
  EXPECT_EQ(failed.at("error").at("message").as_string(), "boom");
  EXPECT_EQ(failed.at("error").at("type").as_string(), "RuntimeError");
  const auto scheduled = std::count_if(events.begin(), events.end(),
                                       [](const auto& e) { return e.type == "scheduled"; });
  EXPECT_EQ(scheduled, 1);
}

TEST_P(BrokerTest, RetryInMsOverridesTheBackoff) {
  SubmitSpec spec = job("override-backoff");
  spec.backoff.initial_ms = 3'600'000;
  const JobId id = submit_ok(spec).record.id;
  const FailOutcome out = must(fail(fail_spec(lease_one("override-backoff"), true, 0)), "fail");
  EXPECT_EQ(out.state, S::kQueued);
  const JobView again = lease_one("override-backoff");
  EXPECT_EQ(again.record.id, id);
  EXPECT_EQ(again.record.attempt, 2);
}

TEST_P(BrokerTest, FailOnTheLastAttemptIsFailedWithTheAttemptRecorded) {
  SubmitSpec spec = job("doomed");
  spec.max_attempts = 2;
  const JobId id = submit_ok(spec).record.id;
  ASSERT_EQ(must(fail(fail_spec(lease_one("doomed"), true, 0)), "fail 1").state, S::kQueued);
  const JobView second = lease_one("doomed");
  ASSERT_EQ(second.record.attempt, 2);

  const FailOutcome out = must(fail(fail_spec(second, true, 0)), "fail 2");
  EXPECT_EQ(out.state, S::kFailed);
  EXPECT_FALSE(out.run_at);
  const JobView v = get_ok(id);
  EXPECT_EQ(v.record.state, S::kFailed);
  ASSERT_TRUE(v.record.error);
  EXPECT_EQ(v.record.error->attempt, 2);
  EXPECT_TRUE(v.record.finished_at);
  EXPECT_EQ(find_event(must(timeline(id), "timeline"), "failed").at("attempt").to_number<int>(), 2);
  EXPECT_TRUE(must(lease(lease_spec({"doomed"})), "lease").empty());

  const QueueStats q = must(queue("doomed"), "queue");
  EXPECT_EQ(count(q, S::kFailed), 1);
  EXPECT_EQ(q.failed_total, 1);
}

TEST_P(BrokerTest, FailWithoutRetryIsFailedAtOnce) {
  const JobId id = submit_ok(job("fatal")).record.id;  // max_attempts 5
  const FailOutcome out = must(fail(fail_spec(lease_one("fatal"), false)), "fail");
  EXPECT_EQ(out.state, S::kFailed);
  const JobView v = get_ok(id);
  EXPECT_EQ(v.record.state, S::kFailed);
  EXPECT_EQ(v.record.attempt, 1);
  ASSERT_TRUE(v.record.error);
  EXPECT_EQ(v.record.error->attempt, 1);
}

TEST_P(BrokerTest, ExpiredLeaseIsRedeliveredAsAttemptTwo) {
  const JobId id = submit_ok(quick_retry_job("slow", 200)).record.id;
  const JobView first = lease_one("slow");
  const JobView requeued = wait_for(
      id,
      [](const JobView& v) {
        return v.record.state != S::kRunning && v.record.error &&
               v.record.error->type == "lease_expired";
      },
      "its lease ran out");
  EXPECT_EQ(requeued.record.state, S::kQueued);
  EXPECT_EQ(requeued.record.error->attempt, 1);
  EXPECT_TRUE(requeued.record.lease_token.empty());

  const auto expired = find_event(must(timeline(id), "timeline"), "failed_attempt");
  EXPECT_EQ(expired.at("error").at("type").as_string(), "lease_expired");
  EXPECT_EQ(expired.at("attempt").to_number<int>(), 1);
  EXPECT_GE(event_at(expired), *first.record.lease_expires_at) << "expired before its time";

  const JobView second = lease_one("slow");
  EXPECT_EQ(second.record.id, id);
  EXPECT_EQ(second.record.attempt, 2);
  EXPECT_EQ(ack(id, first.record.lease_token).status().code(), Code::kConflict);
  EXPECT_TRUE(ack(id, second.record.lease_token).is_ok());
}

// The lease_expired error states the duration the lease was granted for
// (LeaseSpec::lease_ms or a heartbeat's), not the job's default.
TEST_P(BrokerTest, LeaseExpiryErrorStatesTheDurationOfTheLeaseThatRanOut) {
  SubmitSpec spec = job("slow");  // lease_ms: the default 30000
  spec.backoff.initial_ms = 0;
  const JobId id = submit_ok(spec).record.id;
  lease_one("slow", 100);
  const JobView v = wait_for(
      id, [](const JobView& j) { return j.record.error.has_value(); }, "its 100 ms lease ran out");
  ASSERT_EQ(v.record.error->type, "lease_expired");
  EXPECT_EQ(v.record.error->message.find(std::to_string(kDefaultLeaseMs)), std::string::npos)
      << "names the job's default lease, not the 100 ms lease: " << v.record.error->message;
  EXPECT_NE(v.record.error->message.find("100 ms"), std::string::npos) << v.record.error->message;
}

TEST_P(BrokerTest, ExpiredLeaseOnTheLastAttemptFailsTheJob) {
  SubmitSpec spec = quick_retry_job("slow", 100);
  spec.max_attempts = 1;
  const JobId id = submit_ok(spec).record.id;
  lease_one("slow");
  const JobView v = wait_for_state(id, S::kFailed);
  ASSERT_TRUE(v.record.error);
  EXPECT_EQ(v.record.error->type, "lease_expired");
}

TEST_P(BrokerTest, HeartbeatExtendsTheLeaseAndRecordsProgress) {
  // Two jobs leased together share one expiry; only one gets heartbeats.
  const JobId kept = submit_ok(quick_retry_job("beats", 500)).record.id;
  const JobId control = submit_ok(quick_retry_job("beats", 500)).record.id;
  const auto leased = must(lease(lease_spec({"beats"}, 2)), "lease");
  ASSERT_EQ(leased.size(), 2u);
  ASSERT_EQ(leased[0].record.id, kept);
  const std::string token = leased[0].record.lease_token;

  const std::string progress = R"({"percent":50,"message":"half way","data":{"step":2}})";
  const Millis before = now_millis();
  const HeartbeatOutcome out = must(heartbeat(kept, token, 10'000, progress), "heartbeat");
  EXPECT_GE(out.lease_expires_at, before + 10'000);
  EXPECT_FALSE(out.cancel_requested);

  // Once the control job's lease has run out, the kept one's would have too.
  wait_for(
      control, [](const JobView& v) { return v.record.state != S::kRunning; },
      "the control job's lease ran out");
  const JobView v = get_ok(kept);
  EXPECT_EQ(v.record.state, S::kRunning);
  EXPECT_EQ(v.record.attempt, 1);
  EXPECT_EQ(v.record.lease_token, token);
  EXPECT_EQ(v.record.lease_expires_at, out.lease_expires_at);
  EXPECT_EQ(v.record.progress_json, progress);

  const auto ev = find_event(must(timeline(kept), "timeline"), "progress");
  EXPECT_EQ(ev.at("percent").to_number<int>(), 50);
  EXPECT_EQ(ev.at("message").as_string(), "half way");
  EXPECT_EQ(ev.at("data").at("step").to_number<int>(), 2);

  // A heartbeat without progress keeps the last progress.
  must(heartbeat(kept, token), "plain heartbeat");
  EXPECT_EQ(get_ok(kept).record.progress_json, progress);
  EXPECT_EQ(event_types(kept).back(), "heartbeat");
  EXPECT_TRUE(ack(kept, token).is_ok());
}

TEST_P(BrokerTest, HeartbeatWithoutLeaseMsRenewsTheJobsOwnLease) {
  SubmitSpec spec = job("renew");
  spec.lease_ms = 40'000;
  const JobId id = submit_ok(spec).record.id;
  const JobView leased = lease_one("renew");
  const Millis before = now_millis();
  const HeartbeatOutcome out = must(heartbeat(id, leased.record.lease_token), "heartbeat");
  EXPECT_GE(out.lease_expires_at, before + 40'000);
  EXPECT_LE(out.lease_expires_at, now_millis() + 40'000);
}

TEST_P(BrokerTest, HeartbeatWithAWrongTokenIsAConflict) {
  const JobId id = submit_ok(job("beats")).record.id;
  EXPECT_EQ(heartbeat(id, "nope").status().code(), Code::kConflict);  // not even leased
  lease_one("beats");
  EXPECT_EQ(heartbeat(id, "nope").status().code(), Code::kConflict);
}

TEST_P(BrokerTest, TimelineKeepsOnlyTheLast200Events) {
  const JobId id = submit_ok(job("chatty")).record.id;               // event 1: enqueued
  const std::string token = lease_one("chatty").record.lease_token;  // event 2: leased
  // 250 heartbeats in flight at once: they share commits but keep their order.
  std::vector<std::future<Result<HeartbeatOutcome>>> pending;
  for (int i = 0; i < 250; ++i) {
    auto p = std::make_shared<std::promise<Result<HeartbeatOutcome>>>();
    pending.push_back(p->get_future());
    broker().heartbeat(HeartbeatSpec{id, token, std::nullopt, {}},
                       [p](Result<HeartbeatOutcome> r) { p->set_value(std::move(r)); });
  }
  for (auto& f : pending) {
    ASSERT_EQ(f.wait_for(kCallTimeout), std::future_status::ready);
    ASSERT_TRUE(f.get().is_ok());
  }

  const auto events = must(timeline(id), "timeline");
  ASSERT_EQ(events.size(), kTimelineLimit);
  EXPECT_EQ(events.front().seq, 53u);
  EXPECT_EQ(events.back().seq, 252u);
  for (std::size_t i = 1; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq, events[i - 1].seq + 1);
  }
  EXPECT_EQ(get_ok(id).record.timeline_seq, 252u);
  EXPECT_EQ(must(timeline(id, 250), "timeline after 250").size(), 2u);
  EXPECT_TRUE(ack(id, token).is_ok());
  EXPECT_EQ(must(timeline(id, 252), "timeline after 252").at(0).type, "succeeded");
  // The last event pushes the oldest out, derived or written.
  for (int round = 0; round < 2; ++round) {
    const auto ended = must(timeline(id), "timeline of the succeeded job");
    ASSERT_EQ(ended.size(), kTimelineLimit) << round;
    EXPECT_EQ(ended.front().seq, 54u) << round;
    EXPECT_EQ(ended.back().seq, 253u) << round;
    reopen();
  }
}

// The embedded store derives "enqueued" from the record: it must come and go
// exactly as a stored event would.
TEST_P(BrokerTest, TimelineStartsWithEnqueuedUntilItsEventTwoHundredAndOne) {
  SubmitSpec spec = job("chatty");
  spec.priority = 7;
  const JobView submitted = submit_ok(std::move(spec));
  const JobId id = submitted.record.id;
  auto first = must(timeline(id), "timeline");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].seq, 1u);
  EXPECT_EQ(first[0].type, "enqueued");
  const auto doc = boost::json::parse(first[0].json).as_object();
  EXPECT_EQ(doc.at("queue").as_string(), "chatty");
  EXPECT_EQ(doc.at("priority").as_int64(), 7);
  EXPECT_EQ(doc.at("at").as_string(), format_rfc3339(submitted.record.created_at));
  EXPECT_TRUE(must(timeline(id, 1), "after 1").empty());

  const std::string token = lease_one("chatty").record.lease_token;  // event 2
  for (std::uint32_t seq = 3; seq <= kTimelineLimit; ++seq) {
    ASSERT_TRUE(heartbeat(id, token).is_ok()) << seq;
  }
  auto full = must(timeline(id), "200 events");
  ASSERT_EQ(full.size(), kTimelineLimit);
  EXPECT_EQ(full.front().type, "enqueued");
  EXPECT_EQ(full.back().seq, kTimelineLimit);
  ASSERT_TRUE(heartbeat(id, token).is_ok());  // event 201 pushes event 1 out
  auto after = must(timeline(id), "201 events");
  ASSERT_EQ(after.size(), kTimelineLimit);
  EXPECT_EQ(after.front().seq, 2u);
  EXPECT_EQ(after.front().type, "leased");
  reopen();
  EXPECT_EQ(must(timeline(id), "after a restart").front().seq, 2u);
}

// The embedded store derives "succeeded" from the record too: it must read
// as a stored event would, whatever came before it.
TEST_P(BrokerTest, SucceededIsTheLastEventWithTheAttemptAndWorkerThatEndedIt) {
  SubmitSpec spec = job("twice");
  spec.max_attempts = 2;
  const JobId id = submit_ok(std::move(spec)).record.id;
  ASSERT_EQ(must(fail(fail_spec(lease_one("twice"), true, 0)), "fail").state, S::kQueued);
  LeaseSpec second = lease_spec({"twice"});
  second.worker = "worker-\"2\"";
  const auto leased = must(lease(second), "second lease");
  ASSERT_EQ(leased.size(), 1u);
  ASSERT_TRUE(ack(id, leased[0].record.lease_token).is_ok());
  const JobRecord ended = get_ok(id).record;
  for (int round = 0; round < 2; ++round) {
    const auto events = must(timeline(id), "timeline");
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().seq, ended.timeline_seq);
    EXPECT_EQ(events.back().type, "succeeded");
    EXPECT_EQ(events.back().json,
              R"({"seq":)" + std::to_string(ended.timeline_seq) + R"(,"at":")" +
                  format_rfc3339(*ended.finished_at) +
                  R"(","type":"succeeded","attempt":2,"worker":"worker-\"2\""})");
    EXPECT_EQ(events[events.size() - 2].type, "leased");
    const auto last = must(timeline(id, ended.timeline_seq - 1), "after the one before");
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0].json, events.back().json);
    EXPECT_TRUE(must(timeline(id, ended.timeline_seq), "after the last").empty());
    reopen();
  }
}

// And "leased", until the job's next event: whatever a heartbeat renews, the
// event shows the lease as it was granted, before and after a restart.
TEST_P(BrokerTest, LeasedEventShowsTheLeaseAsGrantedWhateverCameAfter) {
  SubmitSpec spec = job("granted");
  spec.max_attempts = 2;
  const JobId id = submit_ok(std::move(spec)).record.id;
  const JobView first = lease_one("granted", 30'000);
  const auto leased_json = [](const JobRecord& r, std::uint32_t seq) {
    return R"({"seq":)" + std::to_string(seq) + R"(,"at":")" + format_rfc3339(*r.started_at) +
           R"(","type":"leased","worker":"worker-1","attempt":)" + std::to_string(r.attempt) +
           R"(,"lease_expires_at":")" + format_rfc3339(*r.started_at + 30'000) + R"("})";
  };
  const std::string first_leased = leased_json(first.record, 2);
  const auto types = [&] {
    std::vector<std::string> out;
    for (const auto& e : must(timeline(id), "timeline")) out.push_back(e.type);
    return out;
  };
  for (int round = 0; round < 2; ++round) {
    const auto events = must(timeline(id), "timeline while running");
    ASSERT_EQ(events.size(), 2u) << round;
    EXPECT_EQ(events[1].json, first_leased) << round;
    const auto after_one = must(timeline(id, 1), "after 1");
    ASSERT_EQ(after_one.size(), 1u) << round;
    EXPECT_EQ(after_one[0].json, first_leased) << round;
    EXPECT_TRUE(must(timeline(id, 2), "after 2").empty()) << round;
    reopen();
  }

  ASSERT_TRUE(heartbeat(id, first.record.lease_token, 90'000).is_ok());
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(must(timeline(id), "after a heartbeat").at(1).json, first_leased) << round;
    EXPECT_EQ(types(), (std::vector<std::string>{"enqueued", "leased", "heartbeat"})) << round;
    reopen();
  }

  ASSERT_EQ(must(fail(fail_spec(first, true, 0)), "fail").state, S::kQueued);
  const JobView second = lease_one("granted", 30'000);
  ASSERT_TRUE(ack(id, second.record.lease_token).is_ok());
  const JobRecord ended = get_ok(id).record;
  for (int round = 0; round < 2; ++round) {
    const auto events = must(timeline(id), "after the second attempt");
    EXPECT_EQ(types(), (std::vector<std::string>{"enqueued", "leased", "heartbeat",
                                                 "failed_attempt", "leased", "succeeded"}))
        << round;
    ASSERT_EQ(events.size(), 6u) << round;
    EXPECT_EQ(events[1].json, first_leased) << round;
    EXPECT_EQ(events[4].json, leased_json(ended, 5)) << round;
    EXPECT_EQ(events[5].seq, 6u) << round;
    reopen();
  }
}

TEST_P(BrokerTest, TimelineEventsAreJsonObjectsWithSeqTimeAndType) {
  const Millis before = now_millis();
  const JobId id = submit_ok(job("events")).record.id;
  const JobView leased = lease_one("events");
  must(ack(id, leased.record.lease_token), "ack");
  const auto events = must(timeline(id), "timeline");
  ASSERT_EQ(events.size(), 3u);
  Millis previous = before;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto ev = parse_event(events[i]);
    EXPECT_EQ(ev.at("seq").to_number<std::uint32_t>(), events[i].seq);
    EXPECT_EQ(events[i].seq, i + 1);
    EXPECT_EQ(ev.at("type").as_string(), events[i].type);
    const Millis at = event_at(ev);
    EXPECT_GE(at, previous);
    previous = at;
  }
  EXPECT_EQ(must(timeline(id, 1), "timeline after 1").size(), 2u);
  EXPECT_TRUE(must(timeline(id, 3), "timeline after 3").empty());
}

// ---- Cancel ----------------------------------------------------------------------

TEST_P(BrokerTest, CancelQueuedJobCancelsItAndItIsNeverLeased) {
  const JobId id = submit_ok(job("cancel-me")).record.id;
  const JobView v = must(cancel(id), "cancel");
  EXPECT_EQ(v.record.state, S::kCancelled);
  EXPECT_TRUE(v.record.finished_at);
  EXPECT_EQ(get_ok(id).record.state, S::kCancelled);
  EXPECT_TRUE(must(lease(lease_spec({"cancel-me"})), "lease").empty());
  EXPECT_EQ(event_types(id).back(), "cancelled");
}

TEST_P(BrokerTest, CancelScheduledJobCancelsIt) {
  SubmitSpec spec = job("cancel-me");
  spec.run_at = now_millis() + 3'600'000;
  const JobId id = submit_ok(spec).record.id;
  EXPECT_EQ(must(cancel(id), "cancel").record.state, S::kCancelled);
  EXPECT_EQ(count(must(queue("cancel-me"), "queue"), S::kScheduled), 0);
}

TEST_P(BrokerTest, CancelRunningJobRequestsCancellationThenItsFailCancels) {
  const JobId id = submit_ok(job("cancel-me")).record.id;
  const JobView leased = lease_one("cancel-me");
  const JobView requested = must(cancel(id), "cancel");
  EXPECT_EQ(requested.record.state, S::kRunning);
  EXPECT_TRUE(requested.record.cancel_requested);
  EXPECT_TRUE(must(cancel(id), "second cancel").record.cancel_requested) << "cancel is idempotent";

  EXPECT_TRUE(must(heartbeat(id, leased.record.lease_token), "heartbeat").cancel_requested);
  const FailOutcome out = must(fail(fail_spec(leased, true)), "fail");
  EXPECT_EQ(out.state, S::kCancelled);
  EXPECT_FALSE(out.run_at);
  const JobView v = get_ok(id);
  EXPECT_EQ(v.record.state, S::kCancelled);
  EXPECT_TRUE(v.record.finished_at);
  const auto types = event_types(id);
  ASSERT_GE(types.size(), 2u);
  EXPECT_NE(std::find(types.begin(), types.end(), "cancel_requested"), types.end());
  EXPECT_EQ(types.back(), "cancelled");
  EXPECT_EQ(types[types.size() - 2], "failed_attempt");
  EXPECT_TRUE(must(lease(lease_spec({"cancel-me"})), "lease").empty());
}

TEST_P(BrokerTest, CancelRequestedJobWhoseLeaseRunsOutIsCancelled) {
  const JobId id = submit_ok(quick_retry_job("cancel-me", 150)).record.id;
  lease_one("cancel-me");
  must(cancel(id), "cancel");
  wait_for_state(id, S::kCancelled);
  EXPECT_TRUE(must(lease(lease_spec({"cancel-me"})), "lease").empty());
}

TEST_P(BrokerTest, CancelOfAFinishedJobIsAConflict) {
  const JobId done = submit_ok(job("cancel-me")).record.id;
  must(ack(done, lease_one("cancel-me").record.lease_token), "ack");
  EXPECT_EQ(cancel(done).status().code(), Code::kConflict);
  EXPECT_EQ(get_ok(done).record.state, S::kSucceeded);

  const JobId cancelled = submit_ok(job("cancel-me")).record.id;
  must(cancel(cancelled), "cancel");
  EXPECT_EQ(cancel(cancelled).status().code(), Code::kConflict);
}

// ---- Operators: retry and discard ---------------------------------------------------

TEST_P(BrokerTest, AdminRetryRequeuesAFailedJobWithAFreshAttemptBudget) {
  SubmitSpec spec = job("dlq");
  spec.max_attempts = 1;
  const JobId id = submit_ok(spec).record.id;
  ASSERT_EQ(must(fail(fail_spec(lease_one("dlq"))), "fail").state, S::kFailed);

  const JobView v = must(retry(id), "retry");
  EXPECT_EQ(v.record.state, S::kQueued);
  EXPECT_EQ(v.record.attempt, 0);
  EXPECT_FALSE(v.record.finished_at);
  EXPECT_EQ(event_types(id).back(), "retried_by_admin");

  const JobView again = lease_one("dlq");
  EXPECT_EQ(again.record.id, id);
  EXPECT_EQ(again.record.attempt, 1);
  EXPECT_TRUE(ack(id, again.record.lease_token).is_ok());
}

TEST_P(BrokerTest, AdminRetryBringsBackCancelledJobs) {
  const JobId id = submit_ok(job("dlq")).record.id;
  must(cancel(id), "cancel");
  EXPECT_EQ(must(retry(id), "retry").record.state, S::kQueued);
  EXPECT_EQ(lease_one("dlq").record.id, id);
}

TEST_P(BrokerTest, AdminRetryOfAnUnfinishedOrSucceededJobIsAConflict) {
  const JobId queued = submit_ok(job("dlq")).record.id;
  EXPECT_EQ(retry(queued).status().code(), Code::kConflict);
  const JobView running = lease_one("dlq");
  EXPECT_EQ(retry(queued).status().code(), Code::kConflict);
  must(ack(queued, running.record.lease_token), "ack");
  EXPECT_EQ(retry(queued).status().code(), Code::kConflict);
  EXPECT_EQ(get_ok(queued).record.state, S::kSucceeded);
}

TEST_P(BrokerTest, DiscardDeletesAFinishedJob) {
  const JobId id = submit_ok(job("trash")).record.id;
  must(ack(id, lease_one("trash").record.lease_token, "\"r\""), "ack");
  EXPECT_TRUE(discard(id).is_ok());
  EXPECT_EQ(get(id).status().code(), Code::kNotFound);
  EXPECT_EQ(timeline(id).status().code(), Code::kNotFound);
  EXPECT_TRUE(must(list(ListSpec{}), "list").jobs.empty());
  EXPECT_EQ(count(must(queue("trash"), "queue"), S::kSucceeded), 0);
  EXPECT_EQ(discard(id).status().code(), Code::kNotFound);
}

// A discard purges the job's timeline with one range delete, among other
// jobs' events in the same memtable: the embedded store's insert hints must
// keep point entries and range tombstones apart (store/embedded/insert_hints.hpp).
TEST_P(BrokerTest, DiscardsAmongOtherJobsEventsLeaveTheirTimelinesWhole) {
  std::vector<JobId> kept, discarded;
  for (int round = 0; round < 20; ++round) {
    kept.push_back(submit_ok(job("mixed", std::to_string(round))).record.id);
    discarded.push_back(submit_ok(job("mixed")).record.id);
    must(cancel(discarded.back()), "cancel");
    must(discard(discarded.back()), "discard");
    const JobView leased = lease_one("mixed");
    ASSERT_EQ(leased.record.id, kept.back());
    must(ack(leased.record.id, leased.record.lease_token), "ack");
  }
  const std::vector<std::string> whole = {"enqueued", "leased", "succeeded"};
  for (int pass = 0; pass < 2; ++pass) {
    for (const JobId& id : kept) EXPECT_EQ(event_types(id), whole) << "pass " << pass;
    for (const JobId& id : discarded) {
      EXPECT_EQ(timeline(id).status().code(), Code::kNotFound) << "pass " << pass;
    }
    reopen();  // the same inserts again, replayed from the log
  }
}

TEST_P(BrokerTest, DiscardOfAnUnfinishedJobIsAConflict) {
  const JobId id = submit_ok(job("trash")).record.id;
  EXPECT_EQ(discard(id).status().code(), Code::kConflict);
  lease_one("trash");
  EXPECT_EQ(discard(id).status().code(), Code::kConflict);
  EXPECT_EQ(get_ok(id).record.state, S::kRunning);
}

// ---- Deadlines ----------------------------------------------------------------------

TEST_P(BrokerTest, JobPastItsDeadlineIsExpiredAndNeverLeased) {
  SubmitSpec spec = job("ttl");
  spec.deadline = now_millis() - 1;
  const JobId id = submit_ok(spec).record.id;
  EXPECT_TRUE(must(lease(lease_spec({"ttl"})), "lease").empty());
  const JobView v = wait_for_state(id, S::kExpired);
  EXPECT_TRUE(v.record.finished_at);
  EXPECT_EQ(v.record.attempt, 0);
  EXPECT_EQ(event_types(id).back(), "expired");
  EXPECT_TRUE(must(lease(lease_spec({"ttl"})), "lease").empty());
  EXPECT_EQ(count(must(queue("ttl"), "queue"), S::kExpired), 1);
}

// A lease that meets a job past its deadline among the ones it takes
// expires that one and fills up with the others, each once.
TEST_P(BrokerTest, LeaseSkipsAnExpiredJobAndTakesEachOtherJobOnce) {
  SubmitSpec late = job("ttl-mix", "\"late\"");
  late.deadline = now_millis() - 1;
  late.priority = 9;  // first in lease order
  const JobId expired = submit_ok(late).record.id;
  const JobId a = submit_ok(job("ttl-mix", "\"a\"")).record.id;
  const JobId b = submit_ok(job("ttl-mix", "\"b\"")).record.id;
  const auto leased = must(lease(lease_spec({"ttl-mix"}, 3)), "lease");
  ASSERT_EQ(leased.size(), 2u);
  EXPECT_EQ(leased[0].record.id, a);
  EXPECT_EQ(leased[1].record.id, b);
  EXPECT_EQ(must(get(expired), "get").record.state, S::kExpired);
  EXPECT_EQ(must(get(a), "get a").record.attempt, 1);
}

TEST_P(BrokerTest, DeadlineExpiresAScheduledJobBeforeItsRunAt) {
  SubmitSpec spec = job("ttl");
  const Millis now = now_millis();
  spec.run_at = now + 400;
  spec.deadline = now + 100;
  const JobId id = submit_ok(spec).record.id;
  const JobView v = wait_for_state(id, S::kExpired);
  EXPECT_GE(*v.record.finished_at, now + 100);
  EXPECT_LT(*v.record.finished_at, now + 400);
  EXPECT_TRUE(must(lease(lease_spec({"ttl"})), "lease").empty());
}

TEST_P(BrokerTest, DeadlineDoesNotExpireAJobAlreadyRunning) {
  // Far enough for a slow store (a sanitizer build on a busy box) to submit
  // and lease before it.
  const Millis deadline = now_millis() + 1000;
  SubmitSpec started = job("ttl-run");
  started.deadline = deadline;
  const JobId id = submit_ok(started).record.id;
  const JobView leased = lease_one("ttl-run");
  SubmitSpec control = job("ttl-control");
  control.deadline = deadline;
  const JobId control_id = submit_ok(control).record.id;
  wait_for_state(control_id, S::kExpired);  // so the deadline has passed
  EXPECT_EQ(get_ok(id).record.state, S::kRunning);
  EXPECT_TRUE(ack(id, leased.record.lease_token).is_ok());
}

TEST_P(BrokerTest, AdminRetryOfAnExpiredJobLetsItRun) {
  SubmitSpec spec = job("ttl");
  spec.deadline = now_millis() - 1;
  const JobId id = submit_ok(spec).record.id;
  wait_for_state(id, S::kExpired);
  EXPECT_EQ(must(retry(id), "retry").record.state, S::kQueued);
  EXPECT_EQ(lease_one("ttl").record.id, id);
}

}  // namespace
}  // namespace errand::conformance
