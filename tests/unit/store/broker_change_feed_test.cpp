// The Broker conformance suite, part 4: the change feed and the commit feed
// (engine/change_feed.hpp). Every state transition is published once, after
// it is durable and before the callback of the call that made it, in order.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "broker_conformance.hpp"

namespace errand::conformance {
namespace {

using S = JobState;
using OptState = std::optional<JobState>;

// Collects what a feed publishes. Thread-safe: the feed calls from the commit thread.
template <typename Event>
class Recorder {
 public:
  explicit Recorder(Feed<Event>& feed) : feed_(feed) {
    id_ = feed_.subscribe([this](std::span<const Event> events) {
      std::lock_guard lock(mutex_);
      seen_.insert(seen_.end(), events.begin(), events.end());
      changed_.notify_all();
    });
  }
  ~Recorder() { feed_.unsubscribe(id_); }

  std::vector<Event> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  // Waits until `pred(seen)` holds, up to kWaitTimeout; returns what was seen.
  template <typename Pred>
  std::vector<Event> wait_until(Pred pred) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, kWaitTimeout, [&] { return pred(seen_); });
    return seen_;
  }
  void unsubscribe() { feed_.unsubscribe(id_); }

 private:
  Feed<Event>& feed_;
  typename Feed<Event>::Id id_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Event> seen_;
};

struct Move {
  OptState from, to;
  bool operator==(const Move&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Move& m) {
  auto name = [](const OptState& s) { return s ? std::string(to_string(*s)) : "none"; };
  return os << name(m.from) << "->" << name(m.to);
}

// The moves of job `id`, in the order published.
std::vector<Move> moves_of(const std::vector<StateChange>& changes, const JobId& id) {
  std::vector<Move> out;
  for (const auto& c : changes) {
    if (c.id == id) out.push_back({c.from, c.to});
  }
  return out;
}

TEST_P(BrokerTest, ChangeFeedFollowsAJobThroughSubmitLeaseAndAck) {
  Recorder<StateChange> rec(broker().changes());
  SubmitSpec spec = job("feed");
  spec.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const JobView submitted = submit_ok(spec);
  const JobId id = submitted.record.id;
  // Published before the call's own answer: nothing to wait for.
  EXPECT_EQ(moves_of(rec.seen(), id), (std::vector<Move>{{std::nullopt, S::kQueued}}));
  const JobView leased = lease_one("feed");
  must(ack(id, leased.record.lease_token), "ack");

  const auto seen = rec.seen();
  EXPECT_EQ(moves_of(seen, id), (std::vector<Move>{{std::nullopt, S::kQueued},
                                                   {S::kQueued, S::kRunning},
                                                   {S::kRunning, S::kSucceeded}}));
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& c : seen) {
    EXPECT_EQ(c.queue, "feed");
    EXPECT_EQ(c.created_at, submitted.record.created_at);
    EXPECT_EQ(c.traceparent, spec.traceparent);
    EXPECT_NE(c.from, c.to);
  }
  EXPECT_EQ(seen[0].at, submitted.record.created_at);
  EXPECT_EQ(seen[0].attempt, 0);
  EXPECT_EQ(seen[1].attempt, 1);
  EXPECT_EQ(seen[1].worker, "worker-1");
  EXPECT_EQ(seen[1].started_at, leased.record.started_at);
  EXPECT_EQ(seen[1].run_at, submitted.record.run_at);  // ready since: the queue wait starts here
  EXPECT_EQ(seen[2].started_at, leased.record.started_at);
  EXPECT_GE(seen[2].at, *seen[2].started_at);
}

TEST_P(BrokerTest, ChangeFeedPublishesFailedAttemptsWithTheirErrorType) {
  SubmitSpec once = job("feed-fail");
  once.max_attempts = 2;
  const JobId id = submit_ok(once).record.id;
  Recorder<StateChange> rec(broker().changes());
  must(fail(fail_spec(lease_one("feed-fail"), true, 0)), "fail with retry now");
  must(fail(fail_spec(lease_one("feed-fail"))), "fail on the last attempt");
  const auto seen = rec.seen();
  EXPECT_EQ(moves_of(seen, id), (std::vector<Move>{{S::kQueued, S::kRunning},
                                                   {S::kRunning, S::kQueued},
                                                   {S::kQueued, S::kRunning},
                                                   {S::kRunning, S::kFailed}}));
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].error_type, "RuntimeError");
  EXPECT_EQ(seen[1].attempt, 1);
  EXPECT_EQ(seen[3].error_type, "RuntimeError");
  EXPECT_EQ(seen[3].attempt, 2);
}

TEST_P(BrokerTest, ChangeFeedPublishesBackoffThenTheTimersPromotionToQueued) {
  SubmitSpec spec = job("feed-backoff");
  spec.backoff.initial_ms = 30;
  spec.backoff.jitter = 0;
  const JobId id = submit_ok(spec).record.id;
  Recorder<StateChange> rec(broker().changes());
  must(fail(fail_spec(lease_one("feed-backoff"))), "fail");
  const auto seen = rec.wait_until([&](const auto& s) { return moves_of(s, id).size() >= 3; });
  EXPECT_EQ(moves_of(seen, id), (std::vector<Move>{{S::kQueued, S::kRunning},
                                                   {S::kRunning, S::kScheduled},
                                                   {S::kScheduled, S::kQueued}}));
}

TEST_P(BrokerTest, ChangeFeedPublishesADelayedJobBecomingReady) {
  Recorder<StateChange> rec(broker().changes());
  SubmitSpec later = job("feed-delay");
  later.run_at = now_millis() + 30;
  const JobId id = submit_ok(later).record.id;
  const auto seen = rec.wait_until([&](const auto& s) { return moves_of(s, id).size() >= 2; });
  EXPECT_EQ(moves_of(seen, id),
            (std::vector<Move>{{std::nullopt, S::kScheduled}, {S::kScheduled, S::kQueued}}));
}

TEST_P(BrokerTest, ChangeFeedPublishesALeaseThatRanOut) {
  const JobId id = submit_ok(quick_retry_job("feed-expiry", 30)).record.id;
  Recorder<StateChange> rec(broker().changes());
  lease_one("feed-expiry");
  const auto seen = rec.wait_until([&](const auto& s) { return moves_of(s, id).size() >= 2; });
  ASSERT_EQ(moves_of(seen, id),
            (std::vector<Move>{{S::kQueued, S::kRunning}, {S::kRunning, S::kQueued}}));
  EXPECT_EQ(seen[1].error_type, "lease_expired");
  EXPECT_EQ(seen[1].worker, "worker-1");
}

TEST_P(BrokerTest, ChangeFeedPublishesADeadlineExpiry) {
  Recorder<StateChange> rec(broker().changes());
  SubmitSpec spec = job("feed-deadline");
  spec.run_at = now_millis() + 60'000;
  spec.deadline = now_millis() + 30;
  const JobId id = submit_ok(spec).record.id;
  const auto seen = rec.wait_until([&](const auto& s) { return moves_of(s, id).size() >= 2; });
  EXPECT_EQ(moves_of(seen, id),
            (std::vector<Move>{{std::nullopt, S::kScheduled}, {S::kScheduled, S::kExpired}}));
}

TEST_P(BrokerTest, ChangeFeedPublishesCancelAdminRetryAndDiscard) {
  const JobId id = submit_ok(job("feed-admin")).record.id;
  Recorder<StateChange> rec(broker().changes());
  must(cancel(id), "cancel");
  must(retry(id), "retry");
  must(cancel(id), "cancel again");
  must(discard(id), "discard");
  EXPECT_EQ(moves_of(rec.seen(), id), (std::vector<Move>{{S::kQueued, S::kCancelled},
                                                         {S::kCancelled, S::kQueued},
                                                         {S::kQueued, S::kCancelled},
                                                         {S::kCancelled, std::nullopt}}));
}

TEST_P(BrokerTest, ChangeFeedIsQuietForChangesThatKeepTheState) {
  const JobId id = submit_ok(job("feed-quiet")).record.id;
  const JobView leased = lease_one("feed-quiet");
  Recorder<StateChange> rec(broker().changes());
  must(heartbeat(id, leased.record.lease_token, 60'000,
                 R"({"percent":5,"message":null,"data":null})"),
       "heartbeat");
  must(cancel(id), "cancel a running job: only requested");
  must(set_paused("feed-quiet", true), "pause");
  EXPECT_TRUE(rec.seen().empty());
  must(fail(fail_spec(leased)), "the worker gives up");
  EXPECT_EQ(moves_of(rec.seen(), id), (std::vector<Move>{{S::kRunning, S::kCancelled}}));
}

TEST_P(BrokerTest, ChangeFeedPublishesEachNewJobOfABatchButNoReplay) {
  const JobId first = submit_ok(keyed("feed-batch", "k1", "1")).record.id;
  Recorder<StateChange> rec(broker().changes());
  std::vector<SubmitSpec> specs;
  specs.push_back(keyed("feed-batch", "k1", "1"));  // a replay: no change
  specs.push_back(job("feed-batch"));
  specs.push_back(job("feed-batch"));
  const auto out = must(submit_batch(std::move(specs)), "batch");
  const auto seen = rec.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].id, out[1].job.record.id);
  EXPECT_EQ(seen[1].id, out[2].job.record.id);
  EXPECT_TRUE(moves_of(seen, first).empty());
}

TEST_P(BrokerTest, ChangeFeedStopsCallingAListenerOnceUnsubscribed) {
  Recorder<StateChange> rec(broker().changes());
  submit_ok(job("feed-unsub"));
  rec.unsubscribe();
  submit_ok(job("feed-unsub"));
  EXPECT_EQ(rec.seen().size(), 1u);
}

TEST_P(BrokerTest, CommitFeedReportsEveryGroupWithItsSizeAndTime) {
  Recorder<CommitStats> rec(broker().commits());
  submit_ok(job("feed-commit"));
  std::vector<SubmitSpec> specs;
  for (int i = 0; i < 10; ++i) specs.push_back(job("feed-commit"));
  must(submit_batch(std::move(specs)), "batch");
  const auto seen = rec.seen();
  ASSERT_GE(seen.size(), 1u);
  std::size_t changes = 0;
  for (const auto& c : seen) {
    EXPECT_GE(c.changes, 1u);
    EXPECT_GE(c.write_seconds, 0.0);
    EXPECT_LT(c.write_seconds, 60.0);
    changes += c.changes;
  }
  EXPECT_EQ(changes, 2u);  // two calls, one change each, however they were grouped
}

}  // namespace
}  // namespace errand::conformance
