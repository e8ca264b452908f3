// What a PostgreSQL store writes on what it knew without reading it again
// (the rows of the jobs it leased, the settings of queues: leased_rows.hpp,
// known_queues.hpp), when another server changed them meanwhile: the write
// must go by what is so now. Two brokers on one database, as two servers.
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <utility>
#include <vector>

#include "postgres_test_store.hpp"

namespace errand::conformance {
namespace {

class PostgresTwoServers : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    other_ = must(store_->open({}), "opening a second broker");
  }
  void TearDown() override {
    other_.reset();
    BrokerTest::TearDown();
  }
  // Changes the database as no errand server does, telling none of them.
  void behind_their_backs(const std::string& sql, const JobId& id) {
    postgres::PgConnection c(dynamic_cast<PostgresStore&>(*store_).url());
    c.exec(sql, postgres::PgParams().text(id.to_string()));
  }
  // Runs `step` on the other server: the fixture's calls go there meanwhile.
  template <typename Step>
  auto elsewhere(Step step) {
    std::swap(broker_, other_);
    struct Back {
      PostgresTwoServers* t;
      ~Back() { std::swap(t->broker_, t->other_); }
    } back{this};
    return step();
  }

  std::unique_ptr<Broker> other_;
};

TEST_P(PostgresTwoServers, AnAckAfterAHeartbeatElsewhereKeepsWhatTheHeartbeatWrote) {
  const JobId id = submit_ok(job("q")).record.id;
  const JobView leased = lease_one("q");
  const std::string progress = R"({"percent":40,"message":"half","data":null})";
  must(elsewhere([&] { return heartbeat(id, leased.record.lease_token, 60'000, progress); }),
       "heartbeat on the other server");
  EXPECT_EQ(must(ack(id, leased.record.lease_token, R"({"ok":true})"), "ack"),
            JobState::kSucceeded);
  const JobView done = elsewhere([&] { return get_ok(id); });
  EXPECT_EQ(done.record.state, JobState::kSucceeded);
  EXPECT_EQ(done.result_json, R"({"ok":true})");
  EXPECT_EQ(done.record.progress_json, progress);
  EXPECT_EQ(done.record.lease_expires_at, std::nullopt);
  const auto types = event_types(id);
  EXPECT_EQ(std::count(types.begin(), types.end(), "succeeded"), 1)
      << ::testing::PrintToString(types);
}

TEST_P(PostgresTwoServers, AnAckOfALeaseThatRanOutAndWentElsewhereIsFenced) {
  const JobId id = submit_ok(quick_retry_job("q", 200)).record.id;
  const JobView first = lease_one("q", 200);
  wait_for_state(id, JobState::kQueued);  // its lease ran out
  const JobView second = elsewhere([&] { return lease_one("q"); });
  ASSERT_EQ(second.record.id, id);
  // This server leased it first and remembers that lease's row.
  const auto stale = ack(id, first.record.lease_token);
  ASSERT_FALSE(stale.is_ok());
  EXPECT_EQ(stale.status().code(), Code::kConflict) << describe(stale.status());
  EXPECT_EQ(get_ok(id).record.state, JobState::kRunning);
  EXPECT_EQ(must(ack(id, second.record.lease_token), "ack of the second lease"),
            JobState::kSucceeded);
  EXPECT_EQ(elsewhere([&] { return get_ok(id); }).record.attempt, 2);
}

// Unheard of, unlike the changes above (whose notices may also come late).
TEST_P(PostgresTwoServers, AnAckGoesByItsJobsRowAsItIsNotAsItsLeaseLeftIt) {
  const JobId id = submit_ok(job("q")).record.id;
  const JobView leased = lease_one("q");
  behind_their_backs("UPDATE errand.jobs SET granted_lease_ms = 12345 WHERE id = $1", id);
  EXPECT_EQ(must(ack(id, leased.record.lease_token), "ack"), JobState::kSucceeded);
  const JobView done = get_ok(id);
  EXPECT_EQ(done.record.state, JobState::kSucceeded);
  EXPECT_EQ(done.record.granted_lease_ms, 12345);
}

TEST_P(PostgresTwoServers, AcksGoingTogetherGoByTheirRowsAsTheyAre) {
  for (int i = 0; i < 3; ++i) submit_ok(job("q"));
  const auto leased = must(lease(lease_spec({"q"}, 3)), "lease");
  ASSERT_EQ(leased.size(), 3u);
  const JobId changed = leased[1].record.id;
  behind_their_backs("UPDATE errand.jobs SET granted_lease_ms = 12345 WHERE id = $1", changed);
  // Sent at once, the acks go in one transaction (op_groups.hpp) when the
  // first has not started yet; alone otherwise. Either way:
  std::vector<std::future<Result<JobState>>> acks;
  for (const auto& j : leased) {
    auto answer = std::make_shared<std::promise<Result<JobState>>>();
    acks.push_back(answer->get_future());
    broker().ack(AckSpec{j.record.id, j.record.lease_token, "1"},
                 [answer](Result<JobState> r) { answer->set_value(std::move(r)); });
  }
  for (auto& a : acks) {
    ASSERT_EQ(a.wait_for(kCallTimeout), std::future_status::ready);
    EXPECT_EQ(must(a.get(), "ack"), JobState::kSucceeded);
  }
  for (const auto& j : leased) {
    const JobView done = get_ok(j.record.id);
    EXPECT_EQ(done.record.state, JobState::kSucceeded);
    EXPECT_EQ(done.record.granted_lease_ms, j.record.id == changed ? 12345 : kDefaultLeaseMs);
  }
}

TEST_P(PostgresTwoServers, AnAckIsFencedByTheLeaseItsJobHasNowNotTheOneItsLeaseLeft) {
  const JobId id = submit_ok(job("q")).record.id;
  const JobView leased = lease_one("q");
  behind_their_backs("UPDATE errand.jobs SET lease_token = 'another' WHERE id = $1", id);
  const auto stale = ack(id, leased.record.lease_token);
  ASSERT_FALSE(stale.is_ok());
  EXPECT_EQ(stale.status().code(), Code::kConflict) << describe(stale.status());
  const JobView still = get_ok(id);
  EXPECT_EQ(still.record.state, JobState::kRunning);
  EXPECT_EQ(still.record.lease_token, "another");
}

TEST_P(PostgresTwoServers, AHeartbeatGoesByItsJobsRowAsItIsAndTheNextOnesToo) {
  const JobId id = submit_ok(job("q")).record.id;
  const JobView leased = lease_one("q");
  behind_their_backs("UPDATE errand.jobs SET granted_lease_ms = 12345 WHERE id = $1", id);
  // Without lease_ms a heartbeat renews for as long as the lease was granted.
  const Millis before = now_millis();
  const auto renewed = must(heartbeat(id, leased.record.lease_token), "heartbeat");
  EXPECT_GE(renewed.lease_expires_at, before + 12345);
  EXPECT_LE(renewed.lease_expires_at, now_millis() + 12345);
  const std::string progress = R"({"percent":90,"message":null,"data":null})";
  must(heartbeat(id, leased.record.lease_token, std::nullopt, progress), "second heartbeat");
  EXPECT_EQ(must(ack(id, leased.record.lease_token), "ack"), JobState::kSucceeded);
  const JobView done = elsewhere([&] { return get_ok(id); });
  EXPECT_EQ(done.record.state, JobState::kSucceeded);
  EXPECT_EQ(done.record.granted_lease_ms, 12345);
  EXPECT_EQ(done.record.progress_json, progress);
}

TEST_P(PostgresTwoServers, AFailIsFencedByTheLeaseItsJobHasNowNotTheOneItsLeaseLeft) {
  const JobId id = submit_ok(job("q")).record.id;
  const JobView leased = lease_one("q");
  behind_their_backs("UPDATE errand.jobs SET lease_token = 'another' WHERE id = $1", id);
  const auto stale = fail(fail_spec(leased));
  ASSERT_FALSE(stale.is_ok());
  EXPECT_EQ(stale.status().code(), Code::kConflict) << describe(stale.status());
  const JobView still = get_ok(id);
  EXPECT_EQ(still.record.state, JobState::kRunning);
  EXPECT_EQ(still.record.error, std::nullopt);
}

TEST_P(PostgresTwoServers, ASubmitAfterAPauseElsewhereIsNotHandedToAParkedLease) {
  // The first submit makes q; the second finds it, and this server now
  // knows q's settings.
  submit_ok(job("q"));
  submit_ok(job("q"));
  for (int i = 0; i < 2; ++i) {
    const JobView drained = lease_one("q");
    must(ack(drained.record.id, drained.record.lease_token), "ack");
  }
  must(elsewhere([&] { return set_paused("q", true); }), "pause on the other server");
  const auto ticket = broker().lease_or_park(lease_spec({"q"}), [](auto) {});
  // A lease still claiming is handed nothing; these reads give its claim
  // (which finds q paused) time to end, so that the submit below would hand
  // its job over if it went by the pause it does not know of. (Either way,
  // a job handed over is a failure.)
  for (int i = 0; i < 5; ++i) must(queue("q"), "queue");
  const JobId id = submit_ok(job("q")).record.id;
  EXPECT_EQ(get_ok(id).record.state, JobState::kQueued);  // a hand-off leases in the submit
  broker().unpark(ticket);
}

TEST_P(PostgresTwoServers, ASubmitAfterALimitSetElsewhereIsRefusedPastIt) {
  submit_ok(job("q"));
  submit_ok(job("q"));  // found q: this server now knows it has no limit
  QueueSettingsChange limit;
  limit.max_queued = 2;
  must(elsewhere([&] { return configure_queue("q", limit); }), "limit on the other server");
  const auto refused = submit(job("q"));
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), Code::kResourceExhausted) << describe(refused.status());
  EXPECT_EQ(count(must(queue("q"), "queue"), JobState::kQueued), 2);
}

INSTANTIATE_TEST_SUITE_P(Postgres, PostgresTwoServers, ::testing::ValuesIn(postgres_backends()),
                         [](const auto& info) { return info.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PostgresTwoServers);

}  // namespace
}  // namespace errand::conformance
