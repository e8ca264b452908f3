#include "core/alerts.hpp"

#include <gtest/gtest.h>

namespace errand {
namespace {

constexpr Millis kT0 = 1'800'000'000'000;  // any fixed instant

AlertRule rule(AlertKind kind, std::string glob = "*") {
  AlertRule r;
  r.name = "r";
  r.queue_glob = std::move(glob);
  r.kind = kind;
  r.threshold_ms = 30'000;
  r.ratio = 0.2;
  r.window_ms = 60'000;
  return r;
}

AlertQueueSample queue(std::string name) {
  AlertQueueSample q;
  q.queue = std::move(name);
  return q;
}

TEST(AlertRule, ValidatesItsFields) {
  EXPECT_TRUE(rule(AlertKind::kLag).validate().is_ok());
  AlertRule r = rule(AlertKind::kLag);
  r.threshold_ms = 0;
  EXPECT_FALSE(r.validate().is_ok());
  r = rule(AlertKind::kFailureRatio);
  r.ratio = 1.5;
  EXPECT_FALSE(r.validate().is_ok());
  r = rule(AlertKind::kDeadLetters);
  r.name.clear();
  EXPECT_FALSE(r.validate().is_ok());
  r = rule(AlertKind::kDeadLetters);
  r.webhook = "ftp://x";
  EXPECT_FALSE(r.validate().is_ok());
}

TEST(AlertKind, NamesRoundTrip) {
  for (auto k : {AlertKind::kLag, AlertKind::kFailureRatio, AlertKind::kDeadLetters,
                 AlertKind::kNoWorkers}) {
    EXPECT_EQ(parse_alert_kind(alert_kind_name(k)), k);
  }
  EXPECT_FALSE(parse_alert_kind("latency").has_value());
}

TEST(Glob, MatchesShellPatterns) {
  EXPECT_TRUE(glob_matches("*", "orders"));
  EXPECT_TRUE(glob_matches("mail.*", "mail.welcome"));
  EXPECT_FALSE(glob_matches("mail.*", "orders"));
  EXPECT_TRUE(glob_matches("q?", "q1"));
}

TEST(AlertEvaluator, LagFiresOnceAndResolvesOnce) {
  AlertEvaluator ev({rule(AlertKind::kLag)}, kT0);
  auto q = queue("orders");
  q.oldest_queued_ms = 10'000;
  EXPECT_TRUE(ev.evaluate(kT0, {q}).empty());
  q.oldest_queued_ms = 31'000;
  auto fired = ev.evaluate(kT0 + 1000, {q});
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].state, AlertState::kFiring);
  EXPECT_EQ(fired[0].queue, "orders");
  EXPECT_EQ(fired[0].since, kT0 + 1000);
  EXPECT_EQ(fired[0].value, 31'000);
  EXPECT_EQ(fired[0].threshold, 30'000);
  q.oldest_queued_ms = 40'000;
  EXPECT_TRUE(ev.evaluate(kT0 + 2000, {q}).empty()) << "still the same episode";
  ASSERT_EQ(ev.list().size(), 1u);
  EXPECT_EQ(ev.list()[0].value, 40'000) << "the firing alert shows the latest value";
  q.oldest_queued_ms.reset();
  auto resolved = ev.evaluate(kT0 + 3000, {q});
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state, AlertState::kResolved);
  EXPECT_EQ(resolved[0].since, kT0 + 1000);
  EXPECT_EQ(resolved[0].resolved_at, kT0 + 3000);
  EXPECT_TRUE(ev.evaluate(kT0 + 4000, {q}).empty());
}

TEST(AlertEvaluator, OneAlertPerMatchingQueue) {
  AlertEvaluator ev({rule(AlertKind::kDeadLetters, "mail.*")}, kT0);
  auto a = queue("mail.a");
  auto b = queue("mail.b");
  auto other = queue("orders");
  a.failed = b.failed = other.failed = 1;
  auto fired = ev.evaluate(kT0, {a, b, other});
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0].queue, "mail.a");
  EXPECT_EQ(fired[1].queue, "mail.b");
  a.failed = 0;
  auto resolved = ev.evaluate(kT0 + 1000, {a, b, other});
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].queue, "mail.a");
  auto list = ev.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].state, AlertState::kFiring) << "firing first";
  EXPECT_EQ(list[1].state, AlertState::kResolved);
}

TEST(AlertEvaluator, NoWorkersNeedsQueuedJobsAndAnIdleQueue) {
  AlertEvaluator ev({rule(AlertKind::kNoWorkers)}, kT0);
  auto q = queue("orders");
  q.queued = 0;
  EXPECT_TRUE(ev.evaluate(kT0 + 60'000, {q}).empty()) << "an empty queue needs no worker";
  q.queued = 3;
  q.last_lease_request_at = kT0 + 50'000;
  EXPECT_TRUE(ev.evaluate(kT0 + 60'000, {q}).empty()) << "asked 10 s ago";
  q.last_lease_request_at.reset();
  auto fired = ev.evaluate(kT0 + 60'000, {q});
  ASSERT_EQ(fired.size(), 1u) << "never asked since the start 60 s ago";
  EXPECT_EQ(fired[0].value, 60'000);
  q.last_lease_request_at = kT0 + 61'000;
  ASSERT_EQ(ev.evaluate(kT0 + 61'000, {q}).size(), 1u) << "a worker asked: resolved";
}

TEST(AlertEvaluator, FailureRatioNeedsTenAttemptsInTheWindow) {
  AlertEvaluator ev({rule(AlertKind::kFailureRatio)}, kT0);
  const auto q = queue("orders");
  for (int i = 0; i < 9; ++i) ev.record_attempt("orders", kT0 + i, /*failed=*/true);
  EXPECT_TRUE(ev.evaluate(kT0 + 100, {q}).empty()) << "9 attempts prove nothing";
  ev.record_attempt("orders", kT0 + 200, false);
  auto fired = ev.evaluate(kT0 + 300, {q});
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_DOUBLE_EQ(fired[0].value, 0.9);
  EXPECT_DOUBLE_EQ(fired[0].threshold, 0.2);
  // The failures leave the 60 s window; successes since keep the ratio low.
  for (int i = 0; i < 20; ++i) ev.record_attempt("orders", kT0 + 30'000 + i, false);
  EXPECT_TRUE(ev.evaluate(kT0 + 50'000, {q}).empty()) << "9/30 is still over 0.2";
  auto resolved = ev.evaluate(kT0 + 62'000, {q});
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state, AlertState::kResolved);
  EXPECT_DOUBLE_EQ(resolved[0].value, 0.0);
}

TEST(AlertEvaluator, KeepsTheLastHundredResolved) {
  AlertEvaluator ev({rule(AlertKind::kDeadLetters)}, kT0);
  auto q = queue("orders");
  for (int i = 0; i < 150; ++i) {
    q.failed = 1;
    ev.evaluate(kT0 + 2 * i, {q});
    q.failed = 0;
    ev.evaluate(kT0 + 2 * i + 1, {q});
  }
  const auto list = ev.list();
  ASSERT_EQ(list.size(), kResolvedAlertsKept);
  EXPECT_EQ(list.front().resolved_at, kT0 + 299) << "newest first";
}

}  // namespace
}  // namespace errand
