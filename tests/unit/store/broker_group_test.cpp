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

}  // namespace
}  // namespace errand::conformance
