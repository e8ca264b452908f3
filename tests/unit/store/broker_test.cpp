// The Broker conformance suite, part 1: submitting, leasing in order, acking,
// idempotency keys, listing and queue statistics. Every test is written
// against the Broker interface alone, so each backend runs the same suite
// (broker_conformance.hpp; embedded_broker_test.cpp instantiates it).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker_conformance.hpp"

namespace errand::conformance {
namespace {

using S = JobState;

// ---- Submit and read ---------------------------------------------------------

TEST_P(BrokerTest, SubmittedJobCanBeReadBackWithItsPayload) {
  SubmitSpec spec = job("orders", R"({"order":42,"items":["a","b"]})");
  spec.priority = 3;
  spec.tags = {"web", "eu"};
  spec.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const Millis before = now_millis();
  const SubmitOutcome out = must(submit(spec), "submit");
  const Millis after = now_millis();

  EXPECT_FALSE(out.replayed);
  EXPECT_EQ(out.job.record.state, S::kQueued);
  EXPECT_EQ(out.job.payload_json, spec.payload_json);

  const JobView v = get_ok(out.job.record.id);
  EXPECT_EQ(v.record.id, out.job.record.id);
  EXPECT_EQ(v.record.queue, "orders");
  EXPECT_EQ(v.record.state, S::kQueued);
  EXPECT_EQ(v.payload_json, R"({"order":42,"items":["a","b"]})");
  EXPECT_TRUE(v.result_json.empty());
  EXPECT_EQ(v.record.priority, 3);
  EXPECT_EQ(v.record.attempt, 0);
  EXPECT_EQ(v.record.max_attempts, kDefaultMaxAttempts);
  EXPECT_EQ(v.record.tags, spec.tags);
  EXPECT_EQ(v.record.traceparent, spec.traceparent);
  EXPECT_GE(v.record.created_at, before);
  EXPECT_LE(v.record.created_at, after);
  EXPECT_FALSE(v.record.started_at);
  EXPECT_FALSE(v.record.finished_at);
  EXPECT_FALSE(v.record.error);
  EXPECT_TRUE(v.record.lease_token.empty());
  EXPECT_EQ(event_types(v.record.id), std::vector<std::string>{"enqueued"});
}

TEST_P(BrokerTest, GetOfAnUnknownJobIsNotFound) {
  const auto missing = JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e");
  EXPECT_EQ(get(*missing).status().code(), Code::kNotFound);
  EXPECT_EQ(timeline(*missing).status().code(), Code::kNotFound);
  EXPECT_EQ(ack(*missing, "token").status().code(), Code::kNotFound);
  EXPECT_EQ(cancel(*missing).status().code(), Code::kNotFound);
  EXPECT_EQ(retry(*missing).status().code(), Code::kNotFound);
  EXPECT_EQ(discard(*missing).status().code(), Code::kNotFound);
}

TEST_P(BrokerTest, BatchSubmitStoresEveryJobInOrder) {
  std::vector<SubmitSpec> specs;
  for (int i = 0; i < 5; ++i) specs.push_back(job("batch", R"({"i":)" + std::to_string(i) + "}"));
  const auto out = must(submit_batch(specs), "batch submit");
  ASSERT_EQ(out.size(), 5u);
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_FALSE(out[i].replayed);
    EXPECT_EQ(get_ok(out[i].job.record.id).payload_json, specs[i].payload_json);
    if (i > 0) {
      EXPECT_LT(out[i - 1].job.record.id, out[i].job.record.id) << "ids follow the order";
    }
  }
}

TEST_P(BrokerTest, DelayedJobIsScheduledUntilRunAtThenLeasable) {
  SubmitSpec spec = job("later");
  const Millis run_at = now_millis() + 300;
  spec.run_at = run_at;
  const JobView submitted = submit_ok(spec);
  EXPECT_EQ(submitted.record.state, S::kScheduled);
  EXPECT_EQ(submitted.record.run_at, run_at);

  // Whenever a lease takes it, that must not be before run_at.
  for (const auto& j : must(lease(lease_spec({"later"})), "early lease")) {
    EXPECT_GE(*j.record.started_at, run_at);
  }
  wait_for_state(submitted.record.id, S::kQueued);
  EXPECT_GE(now_millis(), run_at);
  const JobView leased = lease_one("later");
  EXPECT_EQ(leased.record.id, submitted.record.id);
  EXPECT_GE(*leased.record.started_at, run_at);
  const auto types = event_types(submitted.record.id);
  ASSERT_GE(types.size(), 2u);
  EXPECT_EQ(types[0], "enqueued");
  EXPECT_EQ(types[1], "scheduled");
}

// ---- Lease order -------------------------------------------------------------

TEST_P(BrokerTest, LeaseTakesHigherPriorityFirstThenFifo) {
  std::map<std::string, JobId> ids;
  for (const auto& [name, priority] : std::vector<std::pair<std::string, int>>{
           {"a", 0}, {"b", 5}, {"c", 0}, {"d", 5}, {"e", -1}}) {
    SubmitSpec spec = job("prio", R"({"name":")" + name + "\"}");
    spec.priority = priority;
    ids[name] = submit_ok(spec).record.id;
  }
  const auto leased = must(lease(lease_spec({"prio"}, 10)), "lease");
  std::vector<JobId> got;
  for (const auto& j : leased) got.push_back(j.record.id);
  EXPECT_EQ(got, (std::vector<JobId>{ids["b"], ids["d"], ids["a"], ids["c"], ids["e"]}));
}

TEST_P(BrokerTest, LeaseOneAtATimeFollowsTheSameOrder) {
  std::vector<JobId> submitted;
  for (int i = 0; i < 4; ++i) submitted.push_back(submit_ok(job("fifo")).record.id);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(lease_one("fifo").record.id, submitted[i]) << i;
  EXPECT_TRUE(must(lease(lease_spec({"fifo"})), "lease").empty());
}

TEST_P(BrokerTest, RequeuedJobQueuesBehindJobsThatWereReadyBeforeIt) {
  const JobId retried = submit_ok(job("ready-order")).record.id;
  const JobView first = lease_one("ready-order");
  const JobId waiting = submit_ok(job("ready-order")).record.id;  // ready now
  wait_past(now_millis());
  ASSERT_EQ(must(fail(fail_spec(first, true, 0)), "fail").state, S::kQueued);  // ready later
  EXPECT_EQ(lease_one("ready-order").record.id, waiting) << "FIFO by the time a job became ready";
  EXPECT_EQ(lease_one("ready-order").record.id, retried);
}

TEST_P(BrokerTest, AdminRetriedJobQueuesBehindJobsThatWereReadyBeforeIt) {
  const JobId retried = submit_ok(job("ready-order")).record.id;
  must(cancel(retried), "cancel");
  const JobId waiting = submit_ok(job("ready-order")).record.id;
  wait_past(now_millis());
  must(retry(retried), "retry");
  EXPECT_EQ(lease_one("ready-order").record.id, waiting);
  EXPECT_EQ(lease_one("ready-order").record.id, retried);
}

TEST_P(BrokerTest, LeaseTakesQueuesStrictlyInTheGivenOrder) {
  const JobId low1 = submit_ok(job("low")).record.id;
  const JobId low2 = submit_ok(job("low")).record.id;
  SubmitSpec urgent = job("high");
  urgent.priority = -10;  // priority orders within a queue, never across queues
  const JobId high = submit_ok(urgent).record.id;

  EXPECT_EQ(must(lease(lease_spec({"high", "low"})), "lease").at(0).record.id, high);
  const auto rest = must(lease(lease_spec({"high", "low"}, 5)), "lease");
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].record.id, low1);
  EXPECT_EQ(rest[1].record.id, low2);
}

TEST_P(BrokerTest, LeaseFillsMaxFromLaterQueuesAfterEarlierOnesRunDry) {
  const JobId a = submit_ok(job("first")).record.id;
  const JobId b1 = submit_ok(job("second")).record.id;
  const JobId b2 = submit_ok(job("second")).record.id;
  submit_ok(job("second"));
  const auto leased = must(lease(lease_spec({"first", "second"}, 3)), "lease");
  ASSERT_EQ(leased.size(), 3u);
  EXPECT_EQ(leased[0].record.id, a);
  EXPECT_EQ(leased[1].record.id, b1);
  EXPECT_EQ(leased[2].record.id, b2);
}

TEST_P(BrokerTest, LeaseOfEmptyOrUnknownQueuesReturnsNothing) {
  EXPECT_TRUE(must(lease(lease_spec({"nobody-here"}, 5)), "lease").empty());
  submit_ok(job("elsewhere"));
  EXPECT_TRUE(must(lease(lease_spec({"nobody-here"}, 5)), "lease").empty());
}

TEST_P(BrokerTest, LeaseMarksTheJobRunningWithAFreshToken) {
  SubmitSpec spec = job("work", R"({"x":"y"})");
  spec.lease_ms = 60'000;
  const JobId id = submit_ok(spec).record.id;
  const Millis before = now_millis();
  const JobView leased = lease_one("work");
  const Millis after = now_millis();

  EXPECT_EQ(leased.record.state, S::kRunning);
  EXPECT_EQ(leased.record.attempt, 1);
  EXPECT_EQ(leased.record.worker, "worker-1");
  EXPECT_FALSE(leased.record.lease_token.empty());
  EXPECT_EQ(leased.payload_json, R"({"x":"y"})");
  ASSERT_TRUE(leased.record.started_at && leased.record.lease_expires_at);
  EXPECT_GE(*leased.record.started_at, before);
  EXPECT_LE(*leased.record.started_at, after);
  EXPECT_EQ(*leased.record.lease_expires_at, *leased.record.started_at + 60'000);

  const JobView v = get_ok(id);
  EXPECT_EQ(v.record.state, S::kRunning);
  EXPECT_EQ(v.record.lease_token, leased.record.lease_token);
  const auto ev = find_event(must(timeline(id), "timeline"), "leased");
  EXPECT_EQ(ev.at("worker").as_string(), "worker-1");
  EXPECT_EQ(ev.at("attempt").to_number<int>(), 1);
}

TEST_P(BrokerTest, LeaseMsOfTheRequestOverridesTheJobs) {
  SubmitSpec spec = job("override");
  spec.lease_ms = 60'000;
  submit_ok(spec);
  const JobView leased = lease_one("override", 5'000);
  EXPECT_EQ(*leased.record.lease_expires_at, *leased.record.started_at + 5'000);
}

TEST_P(BrokerTest, EveryJobIsLeasedOnceUnderConcurrentWorkers) {
  constexpr int kJobs = 40;
  std::vector<SubmitSpec> specs;
  for (int i = 0; i < kJobs; ++i) specs.push_back(job("crowd", std::to_string(i)));
  must(submit_batch(specs), "batch submit");

  std::mutex mutex;
  std::multiset<JobId> leased;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      for (;;) {
        auto r = lease(lease_spec({"crowd"}, 3));
        if (!r.is_ok() || r.value().empty()) return;
        std::lock_guard lock(mutex);
        for (const auto& j : r.value()) leased.insert(j.record.id);
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(leased.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(std::set<JobId>(leased.begin(), leased.end()).size(), leased.size())
      << "a job was delivered twice while its lease was held";
}

TEST_P(BrokerTest, ConcurrentProducersAndWorkersFinishEveryJobExactlyOnce) {
  constexpr int kProducers = 3;
  constexpr int kJobsEach = 60;
  constexpr int kTotal = kProducers * kJobsEach;
  std::atomic<int> acked{0};
  std::atomic<int> errors{0};
  const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kJobsEach; ++i) {
        if (!submit(job("busy", std::to_string(p * kJobsEach + i))).is_ok()) ++errors;
      }
    });
  }
  for (int w = 0; w < 3; ++w) {
    threads.emplace_back([&] {
      while (acked < kTotal && errors == 0 && std::chrono::steady_clock::now() < deadline) {
        auto r = lease(lease_spec({"busy"}, 4));
        if (!r.is_ok()) {
          ++errors;
          return;
        }
        if (r.value().empty()) {
          std::this_thread::yield();  // the producers are still at it
          continue;
        }
        for (const auto& j : r.value()) {
          if (!heartbeat(j.record.id, j.record.lease_token).is_ok() ||
              !ack(j.record.id, j.record.lease_token, j.payload_json).is_ok()) {
            ++errors;
          } else {
            ++acked;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(errors, 0);
  EXPECT_EQ(acked, kTotal);
  const QueueStats q = must(queue("busy"), "queue");
  EXPECT_EQ(count(q, S::kSucceeded), kTotal);
  EXPECT_EQ(q.succeeded_total, kTotal);
  EXPECT_EQ(q.enqueued_total, kTotal);
  ListSpec all;
  all.limit = 1000;
  const JobPage page = must(list(all), "list");
  ASSERT_EQ(page.jobs.size(), static_cast<std::size_t>(kTotal));
  for (const auto& j : page.jobs) {
    EXPECT_EQ(j.record.attempt, 1) << "no job was delivered twice";
    EXPECT_EQ(j.result_json, j.payload_json) << "each result belongs to its own job";
  }
}

TEST_P(BrokerTest, PausedQueueLeasesNothingUntilResumed) {
  const QueueStats paused = must(set_paused("held", true), "pause");
  EXPECT_TRUE(paused.paused);
  const JobId id = submit_ok(job("held")).record.id;  // a paused queue still accepts jobs
  EXPECT_TRUE(must(lease(lease_spec({"held"}, 5)), "lease").empty());
  EXPECT_TRUE(must(queue("held"), "queue").paused);

  EXPECT_FALSE(must(set_paused("held", false), "resume").paused);
  EXPECT_EQ(lease_one("held").record.id, id);
}

TEST_P(BrokerTest, PausedQueueIsSkippedInFavourOfTheNextQueue) {
  submit_ok(job("paused-q"));
  const JobId other = submit_ok(job("open-q")).record.id;
  must(set_paused("paused-q", true), "pause");
  const auto leased = must(lease(lease_spec({"paused-q", "open-q"}, 5)), "lease");
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(leased[0].record.id, other);
}

// ---- Ack ----------------------------------------------------------------------

TEST_P(BrokerTest, AckWithTheLeaseTokenSucceedsAndStoresTheResult) {
  const JobId id = submit_ok(job("acks")).record.id;
  const JobView leased = lease_one("acks");
  EXPECT_EQ(must(ack(id, leased.record.lease_token, R"({"ok":true})"), "ack"), S::kSucceeded);

  const JobView v = get_ok(id);
  EXPECT_EQ(v.record.state, S::kSucceeded);
  EXPECT_EQ(v.result_json, R"({"ok":true})");
  EXPECT_TRUE(v.record.finished_at);
  EXPECT_TRUE(v.record.lease_token.empty());
  EXPECT_FALSE(v.record.lease_expires_at);
  EXPECT_EQ(event_types(id), (std::vector<std::string>{"enqueued", "leased", "succeeded"}));
  EXPECT_TRUE(must(lease(lease_spec({"acks"})), "lease").empty());
}

// A hint a backend may always answer false to; but true only while the job
// is there and not terminal, or a waiter would miss its end.
TEST_P(BrokerTest, KnownUnfinishedIsNeverSaidOfAFinishedOrUnknownJob) {
  EXPECT_FALSE(broker().known_unfinished(JobId{}));
  const JobId id = submit_ok(job("hints")).record.id;
  const JobView leased = lease_one("hints");
  ASSERT_TRUE(ack(id, leased.record.lease_token).is_ok());
  EXPECT_FALSE(broker().known_unfinished(id));
  const JobId cancelled = submit_ok(job("hints")).record.id;
  ASSERT_TRUE(cancel(cancelled).is_ok());
  EXPECT_FALSE(broker().known_unfinished(cancelled));
}

TEST_P(BrokerTest, AckWithAWrongTokenIsAConflictAndChangesNothing) {
  const JobId id = submit_ok(job("acks")).record.id;
  const JobView leased = lease_one("acks");
  EXPECT_EQ(ack(id, "not-the-token").status().code(), Code::kConflict);
  EXPECT_EQ(ack(id, "").status().code(), Code::kConflict);
  EXPECT_EQ(get_ok(id).record.state, S::kRunning);
  EXPECT_TRUE(ack(id, leased.record.lease_token).is_ok());
}

TEST_P(BrokerTest, AckOfAJobNeverLeasedIsAConflict) {
  const JobId id = submit_ok(job("acks")).record.id;
  EXPECT_EQ(ack(id, "").status().code(), Code::kConflict);
  EXPECT_EQ(get_ok(id).record.state, S::kQueued);
}

TEST_P(BrokerTest, SecondAckWithTheSameTokenIsAConflict) {
  const JobId id = submit_ok(job("acks")).record.id;
  const JobView leased = lease_one("acks");
  ASSERT_TRUE(ack(id, leased.record.lease_token, "1").is_ok());
  EXPECT_EQ(ack(id, leased.record.lease_token, "2").status().code(), Code::kConflict);
  EXPECT_EQ(get_ok(id).result_json, "1");
}

TEST_P(BrokerTest, StaleTokenOfAnEarlierAttemptIsRejected) {
  const JobId id = submit_ok(job("stale")).record.id;
  const JobView first = lease_one("stale");
  ASSERT_EQ(must(fail(fail_spec(first, true, 0)), "fail").state, S::kQueued);
  const JobView second = lease_one("stale");
  ASSERT_EQ(second.record.attempt, 2);
  EXPECT_NE(second.record.lease_token, first.record.lease_token);

  EXPECT_EQ(ack(id, first.record.lease_token).status().code(), Code::kConflict);
  EXPECT_EQ(heartbeat(id, first.record.lease_token).status().code(), Code::kConflict);
  EXPECT_EQ(fail(fail_spec(first)).status().code(), Code::kConflict);
  EXPECT_EQ(get_ok(id).record.attempt, 2);
  EXPECT_TRUE(ack(id, second.record.lease_token).is_ok());
}

// ---- Idempotency --------------------------------------------------------------------

TEST_P(BrokerTest, IdempotencyKeyReplaysTheExistingJob) {
  const SubmitOutcome first = must(submit(keyed("idem", "k1", R"({"a":1})")), "submit");
  EXPECT_FALSE(first.replayed);
  const SubmitOutcome again = must(submit(keyed("idem", "k1", R"({"a":1})")), "replay");
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.job.record.id, first.job.record.id);
  EXPECT_EQ(again.job.record.state, S::kQueued);
  EXPECT_EQ(again.job.payload_json, R"({"a":1})");
  const QueueStats q = must(queue("idem"), "queue");
  EXPECT_EQ(q.enqueued_total, 1);
  EXPECT_EQ(count(q, S::kQueued), 1);
}

TEST_P(BrokerTest, IdempotencyReplayShowsTheJobsCurrentStateAndResult) {
  const JobId id = must(submit(keyed("idem", "k1", "1")), "submit").job.record.id;
  must(ack(id, lease_one("idem").record.lease_token, R"({"done":true})"), "ack");
  const SubmitOutcome again = must(submit(keyed("idem", "k1", "1")), "replay");
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.job.record.id, id);
  EXPECT_EQ(again.job.record.state, S::kSucceeded);
  EXPECT_EQ(again.job.result_json, R"({"done":true})");
}

TEST_P(BrokerTest, IdempotencyKeyWithADifferentPayloadIsAConflict) {
  must(submit(keyed("idem", "k1", R"({"a":1})")), "submit");
  EXPECT_EQ(submit(keyed("idem", "k1", R"({"a":2})")).status().code(), Code::kConflict);
  EXPECT_EQ(must(queue("idem"), "queue").enqueued_total, 1);
}

TEST_P(BrokerTest, IdempotencyKeysAreScopedToTheirQueue) {
  const JobId a = must(submit(keyed("idem-a", "k1", "1")), "submit a").job.record.id;
  const SubmitOutcome b = must(submit(keyed("idem-b", "k1", "2")), "submit b");
  EXPECT_FALSE(b.replayed);
  EXPECT_NE(b.job.record.id, a);
}

TEST_P(BrokerTest, IdempotencyKeyRepeatedInOneBatchReplaysTheFirst) {
  const auto out =
      must(submit_batch({keyed("idem", "k1", "1"), keyed("idem", "k1", "1")}), "batch");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].replayed);
  EXPECT_TRUE(out[1].replayed);
  EXPECT_EQ(out[0].job.record.id, out[1].job.record.id);
  EXPECT_EQ(must(queue("idem"), "queue").enqueued_total, 1);
}

TEST_P(BrokerTest, BatchWithAConflictingKeyInsideItStoresNothing) {
  const auto r =
      submit_batch({job("idem", "0"), keyed("idem", "k1", "1"), keyed("idem", "k1", "2")});
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_TRUE(must(list(ListSpec{}), "list").jobs.empty());
  EXPECT_TRUE(must(lease(lease_spec({"idem"}, 10)), "lease").empty());
  // The key is still free.
  EXPECT_FALSE(must(submit(keyed("idem", "k1", "2")), "submit").replayed);
}

TEST_P(BrokerTest, BatchConflictingWithAStoredKeyStoresNothing) {
  const JobId original = must(submit(keyed("idem", "k1", "1")), "submit").job.record.id;
  const auto r =
      submit_batch({job("idem", "new"), keyed("idem", "k2", "x"), keyed("idem", "k1", "2")});
  EXPECT_EQ(r.status().code(), Code::kConflict);
  const JobPage page = must(list(ListSpec{}), "list");
  ASSERT_EQ(page.jobs.size(), 1u);
  EXPECT_EQ(page.jobs[0].record.id, original);
  EXPECT_FALSE(must(submit(keyed("idem", "k2", "y")), "k2 is free").replayed);
}

TEST_P(BrokerTest, DiscardFreesTheIdempotencyKey) {
  const JobId first = must(submit(keyed("idem", "k1", "1")), "submit").job.record.id;
  must(cancel(first), "cancel");
  must(discard(first), "discard");
  const SubmitOutcome again = must(submit(keyed("idem", "k1", "2")), "submit again");
  EXPECT_FALSE(again.replayed);
  EXPECT_NE(again.job.record.id, first);
}

// ---- Listing and queue statistics ---------------------------------------------------------

TEST_P(BrokerTest, ListIsNewestFirstWithCursorPaging) {
  std::vector<JobId> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(submit_ok(job("pages", std::to_string(i))).record.id);

  ListSpec spec;
  spec.limit = 2;
  const JobPage p1 = must(list(spec), "page 1");
  ASSERT_EQ(p1.jobs.size(), 2u);
  EXPECT_EQ(p1.jobs[0].record.id, ids[4]);
  EXPECT_EQ(p1.jobs[1].record.id, ids[3]);
  EXPECT_EQ(p1.jobs[0].payload_json, "4");
  ASSERT_TRUE(p1.next);

  spec.before = p1.next;
  const JobPage p2 = must(list(spec), "page 2");
  ASSERT_EQ(p2.jobs.size(), 2u);
  EXPECT_EQ(p2.jobs[0].record.id, ids[2]);
  EXPECT_EQ(p2.jobs[1].record.id, ids[1]);
  ASSERT_TRUE(p2.next);

  spec.before = p2.next;
  const JobPage p3 = must(list(spec), "page 3");
  ASSERT_EQ(p3.jobs.size(), 1u);
  EXPECT_EQ(p3.jobs[0].record.id, ids[0]);
  EXPECT_FALSE(p3.next);

  spec.limit = 5;
  spec.before.reset();
  EXPECT_FALSE(must(list(spec), "exact page").next) << "no cursor when nothing is left";
}

TEST_P(BrokerTest, ListFiltersByQueueAndState) {
  const JobId a1 = submit_ok(job("list-a")).record.id;
  const JobId b1 = submit_ok(job("list-b")).record.id;
  const JobId a2 = submit_ok(job("list-a")).record.id;
  lease_one("list-a");  // a1 runs

  ListSpec by_queue;
  by_queue.queue = "list-a";
  const JobPage qa = must(list(by_queue), "list queue");
  ASSERT_EQ(qa.jobs.size(), 2u);
  EXPECT_EQ(qa.jobs[0].record.id, a2);
  EXPECT_EQ(qa.jobs[1].record.id, a1);

  ListSpec by_state;
  by_state.state = S::kQueued;
  const JobPage queued = must(list(by_state), "list state");
  ASSERT_EQ(queued.jobs.size(), 2u);
  EXPECT_EQ(queued.jobs[0].record.id, a2);
  EXPECT_EQ(queued.jobs[1].record.id, b1);

  ListSpec both;
  both.queue = "list-a";
  both.state = S::kRunning;
  const JobPage running = must(list(both), "list both");
  ASSERT_EQ(running.jobs.size(), 1u);
  EXPECT_EQ(running.jobs[0].record.id, a1);

  ListSpec paged = by_queue;
  paged.limit = 1;
  const JobPage first = must(list(paged), "filtered page 1");
  ASSERT_TRUE(first.next);
  paged.before = first.next;
  const JobPage second = must(list(paged), "filtered page 2");
  ASSERT_EQ(second.jobs.size(), 1u);
  EXPECT_EQ(second.jobs[0].record.id, a1);
  EXPECT_FALSE(second.next);
}

// list() with limit 0 answers an empty page without a cursor.
TEST_P(BrokerTest, ListWithZeroLimitReturnsAnEmptyPage) {
  submit_ok(job("pages"));
  ListSpec spec;
  spec.limit = 0;
  const JobPage page = must(list(spec), "list");
  EXPECT_TRUE(page.jobs.empty());
}

TEST_P(BrokerTest, QueueStatsCountJobsByState) {
  SubmitSpec later = job("stats");
  later.run_at = now_millis() + 3'600'000;
  submit_ok(later);                                        // scheduled
  const JobId to_ack = submit_ok(job("stats")).record.id;  // -> succeeded
  SubmitSpec once = job("stats");
  once.max_attempts = 1;
  const JobId to_fail = submit_ok(once).record.id;  // -> failed
  const JobId to_run = submit_ok(job("stats")).record.id;
  const JobId to_cancel = submit_ok(job("stats")).record.id;
  submit_ok(job("stats"));  // stays queued
  submit_ok(job("stats"));  // stays queued

  const auto leased = must(lease(lease_spec({"stats"}, 3)), "lease");
  ASSERT_EQ(leased.size(), 3u);
  ASSERT_EQ(leased[0].record.id, to_ack);
  ASSERT_EQ(leased[1].record.id, to_fail);
  ASSERT_EQ(leased[2].record.id, to_run);
  must(ack(to_ack, leased[0].record.lease_token), "ack");
  must(fail(fail_spec(leased[1])), "fail");
  must(cancel(to_cancel), "cancel");

  const QueueStats q = must(queue("stats"), "queue");
  EXPECT_EQ(q.name, "stats");
  EXPECT_FALSE(q.paused);
  EXPECT_EQ(count(q, S::kScheduled), 1);
  EXPECT_EQ(count(q, S::kQueued), 2);
  EXPECT_EQ(count(q, S::kRunning), 1);
  EXPECT_EQ(count(q, S::kSucceeded), 1);
  EXPECT_EQ(count(q, S::kFailed), 1);
  EXPECT_EQ(count(q, S::kCancelled), 1);
  EXPECT_EQ(count(q, S::kExpired), 0);
  EXPECT_EQ(q.enqueued_total, 7);
  EXPECT_EQ(q.succeeded_total, 1);
  EXPECT_EQ(q.failed_total, 1);
  ASSERT_TRUE(q.oldest_queued_ms);
  EXPECT_GE(*q.oldest_queued_ms, 0);
  EXPECT_LT(*q.oldest_queued_ms, 60'000);

  const auto all = must(queues(), "queues");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "stats");
  EXPECT_EQ(all[0].enqueued_total, 7);
  must(lease(lease_spec({"stats"}, 5)), "drain");
  EXPECT_FALSE(must(queue("stats"), "queue").oldest_queued_ms) << "nothing is queued any more";
}

// The oldest ready job is the one that has waited longest, whatever its
// priority, not the one a lease takes first.
TEST_P(BrokerTest, OldestQueuedAgeIsThatOfTheLongestWaitingJobOfAnyPriority) {
  SubmitSpec low = job("ages");
  low.priority = -5;
  const Millis first = submit_ok(low).record.created_at;
  wait_past(first + 200);
  for (int priority : {3, 7, 0}) {
    SubmitSpec later = job("ages");
    later.priority = priority;
    submit_ok(later);
  }
  const QueueStats q = must(queue("ages"), "queue");
  ASSERT_TRUE(q.oldest_queued_ms);
  EXPECT_GE(*q.oldest_queued_ms, 200);
  EXPECT_LT(*q.oldest_queued_ms, 60'000);
}

// Priorities at the ends of int keep their order, and stats stay computable
// (the ready set must not overflow negating them).
TEST_P(BrokerTest, ExtremePrioritiesKeepTheirOrderAndStats) {
  SubmitSpec lowest = job("extreme", "\"low\"");
  lowest.priority = -std::numeric_limits<int>::max();
  SubmitSpec highest = job("extreme", "\"high\"");
  highest.priority = std::numeric_limits<int>::max();
  const JobId low = submit_ok(lowest).record.id;
  const JobId high = submit_ok(highest).record.id;
  const auto stats = await_result<QueueStats>(
      [&](auto done) { broker().queue("extreme", std::move(done)); }, std::chrono::seconds(2));
  ASSERT_TRUE(stats.is_ok()) << describe(stats.status());
  EXPECT_EQ(count(stats.value(), S::kQueued), 2);
  EXPECT_EQ(lease_one("extreme").record.id, high);
  EXPECT_EQ(lease_one("extreme").record.id, low);
}

TEST_P(BrokerTest, UnknownQueueIsNotFound) {
  EXPECT_EQ(queue("never-seen").status().code(), Code::kNotFound);
  EXPECT_TRUE(must(queues(), "queues").empty());
}

}  // namespace
}  // namespace errand::conformance
