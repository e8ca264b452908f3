// Many callers at once: each hears its own answer. A store may run
// concurrent submits or acks together in one write (the PostgreSQL store's
// group commit); one caller's refusal must not fail, or leak into, another's.
#include <future>
#include <set>

#include "broker_conformance.hpp"

namespace errand::conformance {
namespace {

using S = JobState;

template <typename T>
struct Answers {
  std::vector<std::future<Result<T>>> futures;
  Callback<T> next() {
    auto promise = std::make_shared<std::promise<Result<T>>>();
    futures.push_back(promise->get_future());
    return [promise](Result<T> r) { promise->set_value(std::move(r)); };
  }
  Result<T> get(std::size_t i) {
    if (futures[i].wait_for(kCallTimeout) != std::future_status::ready) {
      return Status(Code::kInternal, std::string(kTimedOut));
    }
    return futures[i].get();
  }
};

TEST_P(BrokerTest, ConcurrentSubmitsEachHearTheirOwnAnswer) {
  const JobId original = must(submit(keyed("crowd", "k1", R"({"v":1})")), "keyed").job.record.id;
  must(configure_queue("small", QueueSettingsChange{.max_queued = 1}), "max_queued");
  must(submit(job("small")), "fills small");

  constexpr int kCallers = 60;
  constexpr int kConflicting = 20, kReplay = 40, kBadBatch = 50, kFull = 30;
  Answers<std::vector<SubmitOutcome>> answers;
  for (int i = 0; i < kCallers; ++i) {
    std::vector<SubmitSpec> specs;
    if (i == kConflicting) {
      specs.push_back(keyed("crowd", "k1", R"({"v":2})"));
    } else if (i == kReplay) {
      specs.push_back(keyed("crowd", "k1", R"({"v":1})"));
    } else if (i == kBadBatch) {
      specs.push_back(keyed("crowd", "k2", "1"));
      specs.push_back(keyed("crowd", "k2", "2"));
    } else if (i == kFull) {
      specs.push_back(job("small"));
    } else {
      specs.push_back(job("crowd", std::to_string(i)));
    }
    broker().submit(std::move(specs), answers.next());
  }

  std::set<JobId> created;
  for (int i = 0; i < kCallers; ++i) {
    auto r = answers.get(static_cast<std::size_t>(i));
    if (i == kConflicting || i == kBadBatch) {
      EXPECT_EQ(r.status().code(), Code::kConflict)
          << "caller " << i << ": " << describe(r.status());
      continue;
    }
    if (i == kFull) {
      EXPECT_EQ(r.status().code(), Code::kResourceExhausted) << describe(r.status());
      continue;
    }
    ASSERT_TRUE(r.is_ok()) << "caller " << i << ": " << describe(r.status());
    ASSERT_EQ(r.value().size(), 1u);
    const SubmitOutcome& o = r.value()[0];
    if (i == kReplay) {
      EXPECT_TRUE(o.replayed);
      EXPECT_EQ(o.job.record.id, original);
      continue;
    }
    EXPECT_FALSE(o.replayed);
    EXPECT_EQ(o.job.payload_json, std::to_string(i));
    created.insert(o.job.record.id);
  }
  EXPECT_EQ(created.size(), static_cast<std::size_t>(kCallers - 4));
  EXPECT_EQ(must(queue("crowd"), "crowd").enqueued_total, kCallers - 4 + 1);
  EXPECT_EQ(must(queue("small"), "small").enqueued_total, 1);
  // The refused batch stored nothing: its key is free.
  EXPECT_FALSE(must(submit(keyed("crowd", "k2", "3")), "k2").replayed);
}

TEST_P(BrokerTest, ConcurrentAcksEachHearTheirOwnAnswer) {
  constexpr int kJobs = 30;
  std::vector<SubmitSpec> specs;
  for (int i = 0; i < kJobs; ++i) specs.push_back(job("acks", std::to_string(i)));
  must(submit_batch(specs), "submit");
  const auto leased = must(lease(lease_spec({"acks"}, kJobs)), "lease");
  ASSERT_EQ(leased.size(), static_cast<std::size_t>(kJobs));

  Answers<JobState> answers;
  for (int i = 0; i < kJobs; ++i) {
    const JobRecord& r = leased[static_cast<std::size_t>(i)].record;
    const std::string token = i == 1 ? "not-the-lease" : r.lease_token;
    broker().ack(AckSpec{r.id, token, R"({"i":)" + std::to_string(i) + "}"}, answers.next());
  }
  // Job 0 acked twice with its token, and a job that does not exist.
  broker().ack(AckSpec{leased[0].record.id, leased[0].record.lease_token, R"({"again":true})"},
               answers.next());
  broker().ack(AckSpec{JobId::parse("0190a3b4-0000-7000-8000-000000000000").value(), "x", "null"},
               answers.next());

  for (int i = 1; i < kJobs; ++i) {
    auto r = answers.get(static_cast<std::size_t>(i));
    if (i == 1) {
      EXPECT_EQ(r.status().code(), Code::kConflict) << describe(r.status());
      continue;
    }
    ASSERT_TRUE(r.is_ok()) << "ack " << i << ": " << describe(r.status());
    EXPECT_EQ(r.value(), S::kSucceeded);
  }
  const auto first = answers.get(0), second = answers.get(kJobs);
  EXPECT_NE(first.is_ok(), second.is_ok()) << "exactly one of job 0's two acks succeeds";
  EXPECT_EQ((first.is_ok() ? second : first).status().code(), Code::kConflict);
  EXPECT_EQ(answers.get(kJobs + 1).status().code(), Code::kNotFound);

  for (int i = 0; i < kJobs; ++i) {
    const JobView v = must(get(leased[static_cast<std::size_t>(i)].record.id), "get");
    if (i == 1) {
      EXPECT_EQ(v.record.state, S::kRunning);
      continue;
    }
    EXPECT_EQ(v.record.state, S::kSucceeded);
    const std::string mine = R"({"i":)" + std::to_string(i) + "}";
    if (i == 0) {
      EXPECT_EQ(v.result_json, first.is_ok() ? mine : std::string(R"({"again":true})"));
    } else {
      EXPECT_EQ(v.result_json, mine);
    }
  }
  EXPECT_EQ(count(must(queue("acks"), "acks"), S::kSucceeded), kJobs - 1);
}

TEST_P(BrokerTest, AckAllAnswersEachAckInOrderAndRefusesOnlyTheBadOnes) {
  std::vector<SubmitSpec> specs;
  for (int i = 0; i < 4; ++i) specs.push_back(job("batch", std::to_string(i)));
  must(submit_batch(specs), "submit");
  const JobId other = submit_ok(job("other")).record.id;
  const auto batch = must(lease(lease_spec({"batch"}, 4)), "lease batch");
  ASSERT_EQ(batch.size(), 4u);
  const JobView other_leased = lease_one("other");
  const auto acked = [&](std::size_t i, std::string result) {
    return AckSpec{batch[i].record.id, batch[i].record.lease_token, std::move(result)};
  };
  const JobId unknown = JobId::parse("0190a3b4-0000-7000-8000-000000000000").value();

  std::vector<AckSpec> acks;
  acks.push_back(acked(0, R"({"n":0})"));
  acks.push_back(AckSpec{batch[1].record.id, "not-the-lease", "null"});
  acks.push_back(acked(2, R"({"n":2})"));
  acks.push_back(AckSpec{unknown, "x", "null"});
  acks.push_back(acked(0, R"({"again":true})"));  // its first ack ended the lease
  acks.push_back(AckSpec{other, other_leased.record.lease_token, R"("other")"});
  std::optional<CommitCounter> counter(std::in_place, broker().commits());
  const auto outcomes = must(ack_all(std::move(acks)), "ack_all");
  if (GetParam().acks_a_batch_in_one_write) {
    EXPECT_EQ(counter->commits(), 1u) << "the batch is one durable write";
  }
  counter.reset();  // before the broker it listens to goes

  const std::vector<Code> expected = {Code::kOk,       Code::kConflict, Code::kOk,
                                      Code::kNotFound, Code::kConflict, Code::kOk};
  ASSERT_EQ(outcomes.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(outcomes[i].code(), expected[i]) << "ack " << i << ": " << describe(outcomes[i]);
  }
  // As written: the records, results and both queues' totals.
  reopen();
  EXPECT_EQ(get_ok(batch[0].record.id).result_json, R"({"n":0})");
  EXPECT_EQ(get_ok(batch[2].record.id).result_json, R"({"n":2})");
  EXPECT_EQ(get_ok(batch[2].record.id).record.state, S::kSucceeded);
  EXPECT_EQ(get_ok(other).result_json, R"("other")");
  EXPECT_EQ(get_ok(batch[1].record.id).record.state, S::kRunning);
  EXPECT_EQ(get_ok(batch[3].record.id).record.state, S::kRunning);
  EXPECT_EQ(count(must(queue("batch"), "batch"), S::kSucceeded), 2);
  EXPECT_EQ(count(must(queue("other"), "other"), S::kSucceeded), 1);
  EXPECT_EQ(event_types(batch[2].record.id),
            (std::vector<std::string>{"enqueued", "leased", "succeeded"}));
}

TEST_P(BrokerTest, AckAllOfOnlyRefusedAcksWritesNothing) {
  const JobView leased = (submit_ok(job("refused")), lease_one("refused"));
  std::optional<CommitCounter> counter(std::in_place, broker().commits());
  std::vector<AckSpec> acks;
  acks.push_back(AckSpec{leased.record.id, "not-the-lease", "null"});
  const auto outcomes = must(ack_all(std::move(acks)), "ack_all");
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].code(), Code::kConflict);
  EXPECT_TRUE(must(ack_all({}), "ack_all of none").empty());
  if (GetParam().acks_a_batch_in_one_write) {
    EXPECT_EQ(counter->commits(), 0u);
  }
  counter.reset();
  EXPECT_EQ(get_ok(leased.record.id).record.state, S::kRunning);
  EXPECT_TRUE(ack(leased.record.id, leased.record.lease_token).is_ok());
}

}  // namespace
}  // namespace errand::conformance
