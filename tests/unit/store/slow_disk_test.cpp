// A slow disk: what reads show while a write is under way. The embedded
// store changes memory when a request comes and the store when its group is
// written; a read must answer only what is written (SPEC §2: a 2xx means it
// is on disk), never a change a crash could still take back. The log's sync
// is held here (FaultyFileSystem::hold_wal_syncs), so the write stays under
// way for as long as each test needs, with no timing involved.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker_conformance.hpp"
#include "fault_test_support.hpp"
#include "faulty_file_system.hpp"
#include "store/embedded/embedded_broker.hpp"
#include "store/embedded/group_commit.hpp"
#include "store/embedded/store_db.hpp"

namespace errand::testing {
namespace {

using conformance::await_result;
using conformance::must;

// Starts a broker call and returns its answer to come. The callback may run
// on this thread, before start() returns (an answer given at once).
template <typename T, typename Start>
std::future<Result<T>> call(Start&& start) {
  auto answer = std::make_shared<std::promise<Result<T>>>();
  auto future = answer->get_future();
  start([answer](Result<T> r) { answer->set_value(std::move(r)); });
  return future;
}

template <typename T>
bool answered(const std::future<T>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

template <typename T>
Result<T> answer_of(std::future<Result<T>>& f) {
  if (f.wait_for(conformance::kCallTimeout) != std::future_status::ready) {
    return Status(Code::kInternal, "the broker did not call back");
  }
  return f.get();
}

FlowSpec one_step_flow(std::string key = {}) {
  FlowSpec f;
  f.name = "slow";
  f.idempotency_key = std::move(key);
  FlowStepSpec s;
  s.name = "only";
  s.job = conformance::job("slow-disk", R"({"n":1})");
  f.steps.push_back(std::move(s));
  return f;
}

class SlowDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ =
        must(embedded::open_embedded_broker(store_options(dir_, fs_, /*retry_ms=*/20)), "open");
  }
  void TearDown() override {
    fs_->release_wal_syncs();  // a failed assertion may have left it held
    broker_.reset();
  }

  struct LeasedStep {
    JobId flow;
    JobView job;
  };
  // A running one-step flow and its leased step job.
  LeasedStep flow_with_leased_step() {
    const FlowSubmitOutcome flow = must(await_result<FlowSubmitOutcome>([&](auto done) {
                                          broker_->submit_flow(one_step_flow(), std::move(done));
                                        }),
                                        "submit flow");
    auto leased = must(await_result<std::vector<JobView>>([&](auto done) {
                         broker_->lease(conformance::lease_spec({"slow-disk"}), std::move(done));
                       }),
                       "lease");
    if (leased.size() != 1) throw std::runtime_error("the step's job was not leased");
    return {flow.flow.id, leased.front()};
  }

  // Holds the log's syncs, then starts an ack of `job`, and returns once its
  // write is under way (waiting on the sync).
  std::future<Result<JobState>> ack_under_way(const JobView& job) {
    fs_->hold_wal_syncs();
    auto acked = call<JobState>([&](auto done) {
      broker_->ack(AckSpec{job.record.id, job.record.lease_token, R"({"done":true})"},
                   std::move(done));
    });
    EXPECT_TRUE(eventually([&] { return fs_->wal_syncs_held() > 0; }))
        << "the ack's write never reached the log's sync";
    return acked;
  }

  ScratchDir dir_;
  std::shared_ptr<FaultyFileSystem> fs_ = std::make_shared<FaultyFileSystem>();
  std::unique_ptr<Broker> broker_;
};

TEST_F(SlowDiskTest, AFlowReadAnswersOnceTheChangeItShowsIsWritten) {
  const LeasedStep step = flow_with_leased_step();
  const JobId flow = step.flow;
  auto acked = ack_under_way(step.job);

  // Memory already has the flow succeeded; the store has not.
  auto read = call<FlowView>([&](auto done) { broker_->get_flow(flow, std::move(done)); });
  auto listed = call<FlowPage>([&](auto done) { broker_->list_flows({}, std::move(done)); });
  EXPECT_FALSE(answered(read)) << "a flow read answered before the ack it shows was written";
  EXPECT_FALSE(answered(listed)) << "a flow list answered before the ack it shows was written";

  fs_->release_wal_syncs();
  EXPECT_EQ(must(answer_of(acked), "ack"), JobState::kSucceeded);
  const FlowView v = must(answer_of(read), "read");
  EXPECT_EQ(v.state, FlowState::kSucceeded);
  EXPECT_EQ(v.result_json, R"({"only":{"done":true}})");
  const FlowPage page = must(answer_of(listed), "list");
  ASSERT_EQ(page.flows.size(), 1u);
  EXPECT_EQ(page.flows.front().result_json, R"({"only":{"done":true}})");
}

TEST_F(SlowDiskTest, AFlowReadDuringAWriteThatFailsShowsWhatTheStoreHolds) {
  const LeasedStep step = flow_with_leased_step();
  const JobId flow = step.flow;
  auto acked = ack_under_way(step.job);
  auto read = call<FlowView>([&](auto done) { broker_->get_flow(flow, std::move(done)); });
  // The held sync fails once released: the ack was never stored.
  fs_->inject({FaultyFileSystem::Error::kIo, FaultyFileSystem::Op::kSync,
               FaultyFileSystem::Files::kWal, 0});
  fs_->release_wal_syncs();

  const Result<JobState> ack = answer_of(acked);
  ASSERT_FALSE(ack.is_ok());
  EXPECT_EQ(ack.status().code(), Code::kUnavailable);
  const FlowView v = must(answer_of(read), "read");
  EXPECT_EQ(v.state, FlowState::kRunning);
  ASSERT_EQ(v.steps.size(), 1u);
  EXPECT_EQ(v.steps.front().state, "running");
  EXPECT_TRUE(v.result_json.empty()) << v.result_json;
  fs_->clear();
  EXPECT_TRUE(eventually([&] { return broker_->healthy(); }));
}

TEST_F(SlowDiskTest, AFlowSubmitsReplayAnswersOnceTheFlowIsWritten) {
  fs_->hold_wal_syncs();
  auto first = call<FlowSubmitOutcome>(
      [&](auto done) { broker_->submit_flow(one_step_flow("order-1"), std::move(done)); });
  ASSERT_TRUE(eventually([&] { return fs_->wal_syncs_held() > 0; }));
  auto replay = call<FlowSubmitOutcome>(
      [&](auto done) { broker_->submit_flow(one_step_flow("order-1"), std::move(done)); });
  EXPECT_FALSE(answered(replay)) << "a replay answered before the flow was written";

  fs_->release_wal_syncs();
  const FlowSubmitOutcome created = must(answer_of(first), "submit");
  const FlowSubmitOutcome replayed = must(answer_of(replay), "replay");
  EXPECT_FALSE(created.replayed);
  EXPECT_TRUE(replayed.replayed);
  EXPECT_EQ(replayed.flow.id, created.flow.id);
}

// The group committer's when_written(), which the reads above rely on.
TEST(GroupCommitterWhenWritten, RunsAfterWhatWasAppendedBeforeItAndAtOnceWhenNothingIs) {
  ScratchDir dir;
  auto fs = std::make_shared<FaultyFileSystem>();
  auto db = must(embedded::StoreDb::open({dir.path(), {"data"}, fs}), "open");
  embedded::GroupCommitter committer(*db, embedded::Durability::kFsync);
  std::vector<std::string> order;  // what ran, in order (on the writer thread)
  std::mutex order_mutex;
  const auto note = [&](std::string what) {
    std::lock_guard lock(order_mutex);
    order.push_back(std::move(what));
  };

  bool at_once = false;
  committer.when_written([&](const Status& s) { at_once = s.is_ok(); });
  EXPECT_TRUE(at_once) << "with nothing pending, when_written waits";

  fs->hold_wal_syncs();
  const auto put = [&](std::string key) {
    return [db = db.get(), key](rocksdb::WriteBatch& wb) { wb.Put(db->handles()[0], key, "v"); };
  };
  committer.append(put("a"), [&](const Status&) {
    note("a written");
    // A wait started by a completion of the same group: after it, not lost.
    committer.when_written([&](const Status&) { note("inner wait"); });
  });
  ASSERT_TRUE(eventually([&] { return fs->wal_syncs_held() > 0; }));
  std::promise<void> waited;
  committer.when_written([&](const Status& s) {
    EXPECT_TRUE(s.is_ok());
    note("outer wait");
    waited.set_value();
  });
  committer.append(put("b"), [&](const Status&) { note("b written"); });
  std::promise<void> b_waited;
  committer.when_written([&](const Status&) { b_waited.set_value(); });
  {
    std::lock_guard lock(order_mutex);
    EXPECT_TRUE(order.empty()) << "a wait ended while the write it waits for is held";
  }
  fs->release_wal_syncs();
  ASSERT_EQ(waited.get_future().wait_for(conformance::kCallTimeout), std::future_status::ready);
  ASSERT_EQ(b_waited.get_future().wait_for(conformance::kCallTimeout), std::future_status::ready);
  committer.wait_idle();
  std::lock_guard lock(order_mutex);
  // "outer wait" waited for "a" only: it may run before or after "b" is written.
  ASSERT_GE(order.size(), 4u);
  EXPECT_EQ(order[0], "a written");
  EXPECT_EQ(std::count(order.begin(), order.end(), "inner wait"), 1);
  EXPECT_EQ(std::count(order.begin(), order.end(), "outer wait"), 1);
  EXPECT_EQ(std::count(order.begin(), order.end(), "b written"), 1);
}

// A queue's record, rewritten by every change of one of its jobs, goes to
// the group commit as a last put: a group writes it once, with the last value.
TEST(GroupCommitterLastPuts, AGroupWritesTheLastValuePutAtAKeyOnce) {
  ScratchDir dir;
  auto fs = std::make_shared<FaultyFileSystem>();
  auto db = must(embedded::StoreDb::open({dir.path(), {"data"}, fs}), "open");
  embedded::GroupCommitter committer(*db, embedded::Durability::kFsync);
  auto* cf = db->handles()[0];
  const auto last = [&](std::string key, std::string value) {
    return std::vector<embedded::GroupCommitter::LastPut>{{cf, std::move(key), std::move(value)}};
  };
  const auto put = [&](std::string key) {
    return [cf, key](rocksdb::WriteBatch& wb) { wb.Put(cf, key, "v"); };
  };
  const auto nothing = [](rocksdb::WriteBatch&) {};
  const auto ignore = [](const Status&) {};

  fs->hold_wal_syncs();
  committer.append(nothing, ignore, last("queue-a", "1"));  // a group of its own
  ASSERT_TRUE(eventually([&] { return fs->wal_syncs_held() > 0; }));
  // The next group, while the first is held.
  committer.append(put("job-1"), ignore, last("queue-a", "2"));
  committer.append(put("job-2"), ignore, last("queue-b", "1"));
  committer.append(nothing, ignore, last("queue-a", "3"));
  fs->release_wal_syncs();
  committer.wait_idle();

  std::string value;
  ASSERT_TRUE(db->get(0, "queue-a", &value).ok());
  EXPECT_EQ(value, "3");
  ASSERT_TRUE(db->get(0, "queue-b", &value).ok());
  EXPECT_EQ(value, "1");
  ASSERT_TRUE(db->get(0, "job-2", &value).ok());
  // The first group: queue-a. The second: two jobs, queue-a once, queue-b.
  EXPECT_EQ(db->entries_in_memory(0), 1u + 4u);
}

}  // namespace
}  // namespace errand::testing
