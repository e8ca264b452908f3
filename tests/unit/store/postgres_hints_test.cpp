// What the PostgreSQL store knows without asking PostgreSQL: which jobs are
// unfinished (waiters skip their reads), which queues have nothing ready (a
// long poll parks without a claim), and the rows of the jobs it leased
// (their acks write without reading them first). Pure, no database. How the
// jobs it just ended look: engine/ended_jobs_test.cpp.
#include <gtest/gtest.h>

#include <string>

#include "store/postgres/empty_queues.hpp"
#include "store/postgres/leased_rows.hpp"
#include "store/postgres/unfinished_jobs.hpp"

namespace errand::postgres {
namespace {

JobId id_of(int n) {
  JobId id;
  id.bytes[15] = static_cast<std::uint8_t>(n);
  return id;
}

TEST(UnfinishedJobs, KnowsNothingUntilChangesAreHeard) {
  UnfinishedJobs jobs(10);
  jobs.add(id_of(1));
  EXPECT_FALSE(jobs.contains(id_of(1)));
  jobs.enable();
  jobs.add(id_of(1));
  EXPECT_TRUE(jobs.contains(id_of(1)));
  EXPECT_FALSE(jobs.contains(id_of(2)));
}

TEST(UnfinishedJobs, ADroppedJobIsNoLongerKnown) {
  UnfinishedJobs jobs(10);
  jobs.enable();
  jobs.add(id_of(1));
  jobs.add(id_of(2));
  jobs.drop(id_of(1));
  EXPECT_FALSE(jobs.contains(id_of(1)));
  EXPECT_TRUE(jobs.contains(id_of(2)));
}

TEST(UnfinishedJobs, LosingTheListenerForgetsAllAndKnowsNothingUntilHeardAgain) {
  UnfinishedJobs jobs(10);
  jobs.enable();
  jobs.add(id_of(1));
  jobs.disable();
  EXPECT_FALSE(jobs.contains(id_of(1)));
  jobs.add(id_of(2));
  EXPECT_FALSE(jobs.contains(id_of(2)));
  jobs.enable();  // what was added before is not known: its end may be lost
  EXPECT_FALSE(jobs.contains(id_of(1)));
  EXPECT_FALSE(jobs.contains(id_of(2)));
}

TEST(UnfinishedJobs, PastItsCapacityTheOldestAreForgotten) {
  UnfinishedJobs jobs(3);
  jobs.enable();
  for (int i = 1; i <= 5; ++i) jobs.add(id_of(i));
  EXPECT_FALSE(jobs.contains(id_of(1)));
  EXPECT_FALSE(jobs.contains(id_of(2)));
  for (int i = 3; i <= 5; ++i) EXPECT_TRUE(jobs.contains(id_of(i))) << i;
}

std::string lease_of(int n) { return "lease-" + std::to_string(n); }

LeasedRows::Row leased_row(int n, std::size_t payload_bytes = 2) {
  LeasedRows::Row row;
  row.record.id = id_of(n);
  row.record.state = JobState::kRunning;
  row.record.lease_token = lease_of(n);
  row.payload_json = std::string(payload_bytes, '1');
  row.xmin = std::to_string(1000 + n);
  return row;
}

TEST(LeasedRows, ARowIsTakenOnceAndAForgottenOneIsGone) {
  LeasedRows rows(10, 1 << 20);
  rows.put(leased_row(1));
  rows.put(leased_row(2));
  rows.forget(id_of(2));
  const auto one = rows.take(id_of(1), lease_of(1));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->xmin, "1001");
  EXPECT_EQ(one->payload_json, "11");
  EXPECT_FALSE(rows.take(id_of(1), lease_of(1)));
  EXPECT_FALSE(rows.take(id_of(2), lease_of(2)));
  EXPECT_EQ(rows.size(), 0u);
}

TEST(LeasedRows, ARowIsGivenOnlyToTheLeaseItWasLeftRunningUnderAndForgottenEitherWay) {
  LeasedRows rows(10, 1 << 20);
  rows.put(leased_row(1));
  EXPECT_FALSE(rows.take(id_of(1), lease_of(2)));
  EXPECT_FALSE(rows.take(id_of(1), lease_of(1))) << "a take by another lease forgets the row";
  auto ended = leased_row(2);
  ended.record.state = JobState::kSucceeded;
  rows.put(std::move(ended));
  EXPECT_FALSE(rows.take(id_of(2), lease_of(2)));
  EXPECT_EQ(rows.size(), 0u);
}

TEST(LeasedRows, APutReplacesTheRowOfThatJob) {
  LeasedRows rows(10, 1 << 20);
  rows.put(leased_row(1));
  auto again = leased_row(1);
  again.xmin = "2000";
  rows.put(std::move(again));
  EXPECT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows.take(id_of(1), lease_of(1))->xmin, "2000");
}

TEST(LeasedRows, PastItsCapacityTheOldestGoButNotOneTakenAndPutAgain) {
  LeasedRows rows(2, 1 << 20);
  rows.put(leased_row(1));
  rows.put(leased_row(2));
  rows.put(leased_row(1));  // younger now than 2
  rows.put(leased_row(3));
  EXPECT_FALSE(rows.take(id_of(2), lease_of(2)));
  EXPECT_TRUE(rows.take(id_of(1), lease_of(1)));
  EXPECT_TRUE(rows.take(id_of(3), lease_of(3)));
}

TEST(LeasedRows, ManyPutsAndTakesKeepItsBookkeepingBounded) {
  LeasedRows rows(3, 1 << 20);
  for (int round = 0; round < 50; ++round) {
    for (int i = 1; i <= 3; ++i) rows.put(leased_row(i));
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(rows.take(id_of(i), lease_of(i))) << round << " " << i;
  }
  for (int i = 1; i <= 3; ++i) rows.put(leased_row(i));
  EXPECT_EQ(rows.size(), 3u);  // none forgotten for places of rows long taken
}

TEST(LeasedRows, PastItsByteBudgetTheOldestGoAndAHugePayloadIsNotKept) {
  LeasedRows rows(100, 30'000);
  for (int i = 1; i <= 4; ++i) rows.put(leased_row(i, 8'000));
  EXPECT_FALSE(rows.take(id_of(1), lease_of(1)));
  EXPECT_TRUE(rows.take(id_of(4), lease_of(4)));
  rows.put(leased_row(5, 50'000));
  EXPECT_FALSE(rows.take(id_of(5), lease_of(5)));
  EXPECT_TRUE(rows.take(id_of(2), lease_of(2)));  // not pushed out by it
}

const std::vector<std::string> kA{"a"};
const std::vector<std::string> kAB{"a", "b"};

TEST(EmptyQueues, AClaimThatFoundNothingWithNoWakeMeanwhileMakesItsQueuesKnownEmpty) {
  EmptyQueues q;
  q.trust(true);
  EXPECT_FALSE(q.all_empty(kA));
  q.found_none(kAB, q.claim_started());
  EXPECT_TRUE(q.all_empty(kA));
  EXPECT_TRUE(q.all_empty(kAB));
  EXPECT_FALSE(q.all_empty({"a", "c"}));
  EXPECT_FALSE(q.all_empty({}));
}

TEST(EmptyQueues, AWakeDuringTheClaimLeavesItsQueuesUnknown) {
  EmptyQueues q;
  q.trust(true);
  const auto started = q.claim_started();
  q.woken("other");  // one counter: any wake, however far, spares the knowledge
  q.found_none(kA, started);
  EXPECT_FALSE(q.all_empty(kA));
}

TEST(EmptyQueues, AWakeForgetsThatQueueOnly) {
  EmptyQueues q;
  q.trust(true);
  q.found_none(kAB, q.claim_started());
  q.woken("a");
  EXPECT_FALSE(q.all_empty(kA));
  EXPECT_TRUE(q.all_empty({"b"}));
}

TEST(EmptyQueues, TheSweepForgetsAll) {
  EmptyQueues q;
  q.trust(true);
  q.found_none(kAB, q.claim_started());
  q.forget_all();
  EXPECT_FALSE(q.all_empty({"b"}));
}

TEST(EmptyQueues, NothingIsKnownWhileNotificationsMayBeMissed) {
  EmptyQueues q;
  q.found_none(kA, q.claim_started());  // not trusted yet
  EXPECT_FALSE(q.all_empty(kA));
  q.trust(true);
  q.found_none(kA, q.claim_started());
  q.trust(false);
  EXPECT_FALSE(q.all_empty(kA));
  q.found_none(kA, q.claim_started());
  EXPECT_FALSE(q.all_empty(kA));
}

}  // namespace
}  // namespace errand::postgres
