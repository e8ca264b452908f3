// JobIndex keeps records packed and hands out decoded ones until settle():
// what is changed between the two must be what the next section finds, and
// the derived structures (ready order, counts, listing fields) must follow.
#include "store/embedded/job_index.hpp"

#include <gtest/gtest.h>

#include "store/embedded/record_codec.hpp"

namespace errand::embedded {
namespace {

constexpr Millis kNow = 1'795'778'599'000;

class JobIndexTest : public ::testing::Test {
 protected:
  JobRecord queued(std::string queue = "mail", int priority = 0) {
    JobRecord r;
    r.id = ids_.next(kNow);
    r.queue = std::move(queue);
    r.priority = priority;
    r.created_at = r.run_at = kNow;
    r.payload_hash = 0x0123456789abcdefull;
    return r;
  }
  JobState packed_state(const JobId& id) {
    return peek_job_fields(index_.records().at(id).fields()).value().state;
  }

  JobIndex index_{24LL * 3600 * 1000};
  UuidV7Generator ids_{7};
};

TEST_F(JobIndexTest, FindGivesTheSameRecordUntilSettle) {
  const JobId id = index_.insert(queued()).id;
  index_.settle();
  EXPECT_EQ(index_.working_size(), 0u);
  JobRecord* first = index_.find(id);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(index_.find(id), first) << "one decoded record per job and section";
  EXPECT_EQ(index_.working_size(), 1u);
  index_.settle();
  EXPECT_EQ(index_.working_size(), 0u);
  EXPECT_EQ(index_.find(JobId{}), nullptr);
}

TEST_F(JobIndexTest, ChangesSurviveSettle) {
  const JobId id = index_.insert(queued()).id;
  index_.settle();
  index_.update(*index_.find(id), [](JobRecord& j) {
    j.state = JobState::kRunning;
    j.attempt = 1;
    j.worker = "host-1/42";
    j.lease_token = "0123456789abcdef0123456789abcdef";
    j.lease_expires_at = kNow + 30'000;
  });
  ++index_.find(id)->timeline_seq;  // a change made without update() is kept too
  index_.settle();
  const JobRecord* back = index_.find(id);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->state, JobState::kRunning);
  EXPECT_EQ(back->worker, "host-1/42");
  EXPECT_EQ(back->lease_expires_at, kNow + 30'000);
  EXPECT_EQ(back->timeline_seq, 1u);
  EXPECT_EQ(back->payload_hash, 0x0123456789abcdefull);
  EXPECT_EQ(packed_state(id), JobState::kRunning);
  EXPECT_EQ(index_.queue("mail").counts[static_cast<int>(JobState::kRunning)], 1);
  EXPECT_EQ(index_.queue("mail").counts[static_cast<int>(JobState::kQueued)], 0);
}

TEST_F(JobIndexTest, ReadyOrderHoldsAcrossSettles) {
  const JobId low = index_.insert(queued("mail", 0)).id;
  const JobId high = index_.insert(queued("mail", 5)).id;
  index_.settle();
  QueueState& q = index_.queue("mail");
  JobRecord* first = index_.first_ready(q);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->id, high);
  index_.update(*first, [](JobRecord& j) { j.state = JobState::kRunning; });
  index_.settle();
  first = index_.first_ready(q);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->id, low);
}

TEST_F(JobIndexTest, EraseForgetsADecodedRecord) {
  const JobId id = index_.insert(queued()).id;
  index_.settle();
  const JobRecord* found = index_.find(id);
  ASSERT_NE(found, nullptr);
  index_.erase(found->id);  // the id of the record it frees, as the purge timer passes it
  EXPECT_EQ(index_.find(id), nullptr);
  index_.settle();
  EXPECT_EQ(index_.find(id), nullptr);
  EXPECT_TRUE(index_.records().empty());
  EXPECT_EQ(index_.queue("mail").counts[static_cast<int>(JobState::kQueued)], 0);
  EXPECT_TRUE(index_.queue("mail").ready.empty());
}

TEST_F(JobIndexTest, LoadedRecordsArePackedAndIndexed) {
  JobRecord r = queued();
  r.idempotency_key = "order-7";
  index_.load(r);
  EXPECT_EQ(index_.working_size(), 0u) << "start-up goes straight to rest";
  EXPECT_EQ(packed_state(r.id), JobState::kQueued);
  JobRecord* by_key = index_.find_by_key("mail", "order-7");
  ASSERT_NE(by_key, nullptr);
  EXPECT_EQ(by_key->id, r.id);
  EXPECT_EQ(index_.first_ready(index_.queue("mail")), by_key);
}

// The point of packing: a plain queued job's record costs its fields, not a
// 576-byte JobRecord (docs/benchmarks.md, memory per queued job).
TEST_F(JobIndexTest, APlainQueuedJobPacksSmall) {
  const JobId id = index_.insert(queued("orders.emails")).id;
  index_.settle();
  EXPECT_LE(index_.records().at(id).fields().size(), 96u);
  EXPECT_LE(sizeof(PackedJob), sizeof(void*));
}

}  // namespace
}  // namespace errand::embedded
