// What the PostgreSQL store knows without asking PostgreSQL: which jobs are
// unfinished (waiters skip their reads) and which queues have nothing ready
// (a long poll parks without a claim). Pure, no database.
#include <gtest/gtest.h>

#include "store/postgres/empty_queues.hpp"
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
