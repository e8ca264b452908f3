#include "tracing/job_spans.hpp"

#include <gtest/gtest.h>

#include <set>

namespace errand::tracing {
namespace {

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kSubmitterSpan[] = "00f067aa0ba902b7";
constexpr char kSampled[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr char kNotSampled[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
constexpr std::uint64_t kMs = 1'000'000;  // nanoseconds

const JobId kId = *JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e");

// A job of queue "orders" created at 1000 ms, as the broker reports it after
// moving from `from` to `to` at `at`; the test sets the rest.
StateChange change(std::optional<JobState> from, std::optional<JobState> to, Millis at,
                   std::string traceparent = kSampled) {
  StateChange c;
  c.id = kId;
  c.queue = "orders";
  c.from = from;
  c.to = to;
  c.at = at;
  c.created_at = 1000;
  c.run_at = 1000;
  c.traceparent = std::move(traceparent);
  return c;
}

StateChange leased(Millis at, int attempt, Millis run_at, std::string traceparent = kSampled) {
  StateChange c = change(JobState::kQueued, JobState::kRunning, at, std::move(traceparent));
  c.attempt = attempt;
  c.started_at = at;
  c.run_at = run_at;
  c.worker = "host-1/42";
  return c;
}

StateChange ended(JobState to, Millis at, int attempt, Millis started_at,
                  std::string error_type = {}, std::string traceparent = kSampled) {
  StateChange c = change(JobState::kRunning, to, at, std::move(traceparent));
  c.attempt = attempt;
  c.started_at = started_at;
  c.worker = "host-1/42";
  c.error_type = std::move(error_type);
  return c;
}

// job_spans(c), checking that span_count agrees.
std::vector<Span> spans_of(const StateChange& c) {
  auto spans = job_spans(c);
  EXPECT_EQ(span_count(c), spans.size());
  return spans;
}

std::string string_attr(const Span& s, const std::string& key) {
  const auto* a = s.attribute(key);
  if (a == nullptr || !std::holds_alternative<std::string>(a->value)) return "<none>";
  return std::get<std::string>(a->value);
}

std::int64_t int_attr(const Span& s, const std::string& key) {
  const auto* a = s.attribute(key);
  if (a == nullptr || !std::holds_alternative<std::int64_t>(a->value)) return -1;
  return std::get<std::int64_t>(a->value);
}

std::string without_dashes(std::string s) {
  std::erase(s, '-');
  return s;
}

TEST(JobSpans, FirstAttemptSuccessContinuesTheSubmittersTrace) {
  EXPECT_TRUE(spans_of(change(std::nullopt, JobState::kQueued, 1000)).empty());

  const auto wait = spans_of(leased(1500, 1, 1000));
  ASSERT_EQ(wait.size(), 1u);
  EXPECT_EQ(wait[0].name, "queue wait");
  EXPECT_EQ(wait[0].kind, SpanKind::kInternal);
  EXPECT_EQ(wait[0].trace_id, kTraceId);
  EXPECT_EQ(wait[0].parent_span_id, job_span_id(kId));
  EXPECT_EQ(wait[0].start_unix_nano, 1000 * kMs);
  EXPECT_EQ(wait[0].end_unix_nano, 1500 * kMs);
  EXPECT_EQ(int_attr(wait[0], "errand.attempt"), 1);
  EXPECT_EQ(string_attr(wait[0], "messaging.destination.name"), "orders");

  const auto done = spans_of(ended(JobState::kSucceeded, 1800, 1, 1500));
  ASSERT_EQ(done.size(), 2u);
  const Span& attempt = done[0];
  EXPECT_EQ(attempt.name, "attempt 1");
  EXPECT_EQ(attempt.kind, SpanKind::kConsumer);
  EXPECT_EQ(attempt.trace_id, kTraceId);
  EXPECT_EQ(attempt.parent_span_id, job_span_id(kId));
  EXPECT_EQ(attempt.start_unix_nano, 1500 * kMs);
  EXPECT_EQ(attempt.end_unix_nano, 1800 * kMs);
  EXPECT_EQ(attempt.status, SpanStatus::kOk);
  EXPECT_EQ(string_attr(attempt, "errand.worker"), "host-1/42");
  EXPECT_EQ(int_attr(attempt, "errand.attempt"), 1);

  const Span& job = done[1];
  EXPECT_EQ(job.name, "job orders");
  EXPECT_EQ(job.kind, SpanKind::kProducer);
  EXPECT_EQ(job.trace_id, kTraceId);
  EXPECT_EQ(job.span_id, job_span_id(kId));
  EXPECT_EQ(job.parent_span_id, kSubmitterSpan);
  EXPECT_EQ(job.start_unix_nano, 1000 * kMs);
  EXPECT_EQ(job.end_unix_nano, 1800 * kMs);
  EXPECT_EQ(job.status, SpanStatus::kOk);
  EXPECT_EQ(string_attr(job, "messaging.system"), "errand");
  EXPECT_EQ(string_attr(job, "messaging.destination.name"), "orders");
  EXPECT_EQ(string_attr(job, "messaging.message.id"), kId.to_string());
  EXPECT_EQ(string_attr(job, "errand.job.state"), "succeeded");
  EXPECT_EQ(int_attr(job, "errand.job.attempts"), 1);

  const std::set<std::string> ids{wait[0].span_id, attempt.span_id, job.span_id};
  EXPECT_EQ(ids.size(), 3u);
  for (const auto& id : ids) {
    EXPECT_EQ(id.size(), 16u);
    EXPECT_NE(id, "0000000000000000");
  }
}

TEST(JobSpans, AFailedAttemptThenASuccessMakeTwoAttemptsAndTwoWaits) {
  spans_of(leased(1500, 1, 1000));
  const auto failed = spans_of([] {
    StateChange c = ended(JobState::kScheduled, 1600, 1, 1500, "Timeout");
    c.run_at = 1650;  // the backoff
    return c;
  }());
  ASSERT_EQ(failed.size(), 1u) << "no job span before the job ends";
  EXPECT_EQ(failed[0].name, "attempt 1");
  EXPECT_EQ(failed[0].status, SpanStatus::kError);
  EXPECT_EQ(failed[0].status_message, "Timeout");
  EXPECT_EQ(string_attr(failed[0], "error.type"), "Timeout");
  EXPECT_EQ(failed[0].end_unix_nano, 1600 * kMs);

  StateChange ready = change(JobState::kScheduled, JobState::kQueued, 1650);
  ready.attempt = 1;
  EXPECT_TRUE(spans_of(ready).empty());

  const auto wait = spans_of(leased(1700, 2, 1650));
  ASSERT_EQ(wait.size(), 1u);
  EXPECT_EQ(wait[0].start_unix_nano, 1650 * kMs) << "waits from when the retry became ready";
  EXPECT_EQ(wait[0].end_unix_nano, 1700 * kMs);
  EXPECT_EQ(int_attr(wait[0], "errand.attempt"), 2);

  const auto done = spans_of(ended(JobState::kSucceeded, 1900, 2, 1700, "Timeout"));
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].name, "attempt 2");
  EXPECT_EQ(done[0].status, SpanStatus::kOk);
  EXPECT_EQ(done[0].attribute("error.type"), nullptr) << "the earlier error is not this attempt's";
  EXPECT_NE(done[0].span_id, failed[0].span_id);
  EXPECT_EQ(int_attr(done[1], "errand.job.attempts"), 2);
  EXPECT_EQ(done[1].start_unix_nano, 1000 * kMs);
}

TEST(JobSpans, AJobWithoutTraceparentIsTheRootOfATraceNamedByItsId) {
  for (const char* tp :
       {"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}) {
    const auto done = spans_of(ended(JobState::kSucceeded, 1800, 1, 1500, {}, tp));
    ASSERT_EQ(done.size(), 2u) << tp;
    for (const auto& s : done) EXPECT_EQ(s.trace_id, without_dashes(kId.to_string())) << tp;
    EXPECT_EQ(done[1].parent_span_id, "") << tp;
    EXPECT_EQ(done[0].parent_span_id, job_span_id(kId)) << tp;
  }
}

TEST(JobSpans, ANotSampledJobExportsNothing) {
  const std::vector<StateChange> life = {
      leased(1500, 1, 1000, kNotSampled),
      ended(JobState::kScheduled, 1600, 1, 1500, "Timeout", kNotSampled),
      leased(1700, 2, 1650, kNotSampled),
      ended(JobState::kSucceeded, 1900, 2, 1700, {}, kNotSampled),
      change(JobState::kQueued, JobState::kCancelled, 2000, kNotSampled),
  };
  for (const auto& c : life) {
    EXPECT_TRUE(job_spans(c).empty());
    EXPECT_EQ(span_count(c), 0u);
  }
}

TEST(JobSpans, CancelledWhileQueuedEndsItsWaitAndTheJobWithoutError) {
  const auto spans = spans_of(change(JobState::kQueued, JobState::kCancelled, 2000));
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].name, "queue wait");
  EXPECT_EQ(spans[0].start_unix_nano, 1000 * kMs);
  EXPECT_EQ(spans[0].end_unix_nano, 2000 * kMs);
  EXPECT_EQ(int_attr(spans[0], "errand.attempt"), 1);
  EXPECT_EQ(spans[1].name, "job orders");
  EXPECT_EQ(spans[1].status, SpanStatus::kUnset);
  EXPECT_EQ(string_attr(spans[1], "errand.job.state"), "cancelled");
}

TEST(JobSpans, CancelledOrExpiredWhileScheduledNeverWaited) {
  StateChange c = change(JobState::kScheduled, JobState::kCancelled, 2000);
  c.run_at = 5000;
  const auto cancelled = spans_of(c);
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].name, "job orders");

  c.to = JobState::kExpired;
  const auto expired = spans_of(c);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].status, SpanStatus::kError);
  EXPECT_EQ(string_attr(expired[0], "error.type"), "expired");
}

TEST(JobSpans, ExpiredWhileQueuedIsAnError) {
  const auto spans = spans_of(change(JobState::kQueued, JobState::kExpired, 2000));
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].name, "queue wait");
  EXPECT_EQ(spans[1].status, SpanStatus::kError);
  EXPECT_EQ(spans[1].status_message, "expired");
  EXPECT_EQ(string_attr(spans[1], "errand.job.state"), "expired");
}

TEST(JobSpans, LeaseExpiryFailsTheAttempt) {
  const auto retried = spans_of(ended(JobState::kQueued, 31'500, 1, 1500, "lease_expired"));
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].name, "attempt 1");
  EXPECT_EQ(retried[0].start_unix_nano, 1500 * kMs);
  EXPECT_EQ(retried[0].end_unix_nano, 31'500 * kMs);
  EXPECT_EQ(retried[0].status, SpanStatus::kError);
  EXPECT_EQ(string_attr(retried[0], "error.type"), "lease_expired");

  const auto dead = spans_of(ended(JobState::kFailed, 61'500, 2, 31'600, "lease_expired"));
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].status, SpanStatus::kError);
  EXPECT_EQ(dead[1].status, SpanStatus::kError);
  EXPECT_EQ(dead[1].status_message, "lease_expired");
  EXPECT_EQ(string_attr(dead[1], "errand.job.state"), "failed");
}

TEST(JobSpans, AFailureWithoutATypeIsOther) {
  const auto spans = spans_of(ended(JobState::kFailed, 1800, 1, 1500, ""));
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(string_attr(spans[0], "error.type"), "_OTHER");
  EXPECT_EQ(string_attr(spans[1], "error.type"), "_OTHER");
}

TEST(JobSpans, IdsAreTheSameEveryTimeAndApartAcrossAnOperatorRetry) {
  const auto first = spans_of(ended(JobState::kFailed, 1800, 1, 1500, "X"));
  EXPECT_EQ(spans_of(ended(JobState::kFailed, 1800, 1, 1500, "X"))[0].span_id, first[0].span_id);

  StateChange retried = change(JobState::kFailed, JobState::kQueued, 5000);
  EXPECT_TRUE(spans_of(retried).empty());
  const auto again = spans_of(ended(JobState::kSucceeded, 6200, 1, 6000));
  EXPECT_NE(again[0].span_id, first[0].span_id) << "attempt 1 of the retry is another span";
  EXPECT_EQ(again[1].span_id, first[1].span_id) << "still the same job";

  StateChange other = ended(JobState::kFailed, 1800, 1, 1500, "X");
  other.id = *JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9f");
  EXPECT_NE(job_span_id(other.id), job_span_id(kId));
  EXPECT_NE(spans_of(other)[0].span_id, first[0].span_id);
}

TEST(JobSpans, RemovalsAndHeartbeatLikeChangesMakeNoSpans) {
  EXPECT_TRUE(spans_of(change(JobState::kSucceeded, std::nullopt, 9000)).empty());
  EXPECT_TRUE(spans_of(change(std::nullopt, JobState::kScheduled, 1000)).empty());
  EXPECT_TRUE(spans_of(change(JobState::kScheduled, JobState::kQueued, 1200)).empty());
}

}  // namespace
}  // namespace errand::tracing
