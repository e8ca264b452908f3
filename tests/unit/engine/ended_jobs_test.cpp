// EndedJobs: the jobs a commit just ended, as it left them, for the waiters
// it wakes (both stores keep one).
#include "engine/ended_jobs.hpp"

#include <gtest/gtest.h>

#include <string>

namespace errand {
namespace {

JobId id_of(int n) {
  JobId id;
  id.bytes[15] = static_cast<std::uint8_t>(n);
  return id;
}

JobView ended_view(int n) {
  JobView v;
  v.record.id = id_of(n);
  v.record.state = JobState::kSucceeded;
  v.result_json = "{\"n\":" + std::to_string(n) + "}";
  return v;
}

TEST(EndedJobs, AViewIsShownOnlyOnceItsCommitReturned) {
  EndedJobs ended(10, 1 << 20);
  ended.enable();
  const auto token = ended.put(ended_view(1));
  EXPECT_FALSE(ended.get(id_of(1)));
  ended.show(id_of(1), token);
  ASSERT_TRUE(ended.get(id_of(1)));
  EXPECT_EQ(ended.get(id_of(1))->result_json, "{\"n\":1}");
}

TEST(EndedJobs, APutOfATransactionThatRolledBackIsNeverShown) {
  EndedJobs ended(10, 1 << 20);
  ended.enable();
  const auto rolled_back = ended.put(ended_view(1));
  const auto committed = ended.put(ended_view(1));  // the transaction, tried again
  ended.show(id_of(1), rolled_back);
  EXPECT_FALSE(ended.get(id_of(1)));
  ended.show(id_of(1), committed);
  EXPECT_TRUE(ended.get(id_of(1)));
}

TEST(EndedJobs, ALaterChangeForgetsTheViewEvenBeforeItIsShown) {
  EndedJobs ended(10, 1 << 20);
  ended.enable();
  const auto token = ended.put(ended_view(1));
  ended.forget(id_of(1));  // another server retried it, and its notice came first
  ended.show(id_of(1), token);
  EXPECT_FALSE(ended.get(id_of(1)));
}

TEST(EndedJobs, NothingIsKeptWhileNoticesMayBeMissedAndTheOldestGoPastCapacity) {
  EndedJobs ended(2, 1 << 20);
  ended.show(id_of(1), ended.put(ended_view(1)));
  EXPECT_FALSE(ended.get(id_of(1)));  // not enabled
  ended.enable();
  for (int i = 1; i <= 3; ++i) ended.show(id_of(i), ended.put(ended_view(i)));
  EXPECT_FALSE(ended.get(id_of(1)));
  EXPECT_TRUE(ended.get(id_of(2)));
  EXPECT_TRUE(ended.get(id_of(3)));
  ended.disable();
  EXPECT_FALSE(ended.get(id_of(3)));
}

TEST(EndedJobs, PastItsByteBudgetTheOldestAreForgottenAndAHugeViewIsNotKept) {
  EndedJobs ended(100, 3000);
  ended.enable();
  for (int i = 1; i <= 3; ++i) {
    JobView v = ended_view(i);
    v.payload_json = std::string(900, 'x');
    ended.show(id_of(i), ended.put(std::move(v)));
  }
  EXPECT_FALSE(ended.get(id_of(1)));
  EXPECT_TRUE(ended.get(id_of(3)));
  JobView huge = ended_view(4);
  huge.payload_json = std::string(5000, 'x');
  ended.show(id_of(4), ended.put(std::move(huge)));
  EXPECT_FALSE(ended.get(id_of(4)));
}

}  // namespace
}  // namespace errand
