// PgPool's threads, without a database: its connections fail (nothing
// listens on the port), and tasks that do not use them still run.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <map>
#include <thread>
#include <vector>

#include "store/postgres/pg_pool.hpp"

namespace errand::postgres {
namespace {

const PgSessionSetup kNowhere{"postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2",
                              "test", std::chrono::milliseconds(0)};

std::thread::id run_one(PgPool& pool) {
  std::promise<std::thread::id> ran;
  auto on = ran.get_future();
  pool.post([&ran](PgSession&) { ran.set_value(std::this_thread::get_id()); });
  EXPECT_EQ(on.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  return on.get();
}

TEST(PgPool, TasksOneAtATimeRunOnTheThreadsLastIdleNotRoundTheWholePool) {
  constexpr int kThreads = 6;
  PgPool pool(kNowhere, kThreads);
  // Every thread up and busy at once, then idle again (a few tasks while
  // they get there).
  std::latch all_running(kThreads);
  std::latch all_done(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    pool.post([&](PgSession&) {
      all_running.arrive_and_wait();
      all_done.count_down();
    });
  }
  all_done.wait();
  for (int i = 0; i < 10; ++i) run_one(pool);
  std::map<std::thread::id, int> ran_on;
  for (int i = 0; i < 100; ++i) ++ran_on[run_one(pool)];
  // The thread that ran the last task, or the one before it when that is
  // not idle again yet as the next is posted. (A third only if both are
  // preempted on their way back: rare, so the two take nearly all.)
  std::vector<int> counts;
  for (const auto& [thread, n] : ran_on) counts.push_back(n);
  std::sort(counts.rbegin(), counts.rend());
  EXPECT_GE(counts[0] + (counts.size() > 1 ? counts[1] : 0), 90) << ran_on.size() << " threads";
}

TEST(PgPool, StopRunsWhatWasPostedThenJoins) {
  PgPool pool(kNowhere, 2);
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) pool.post([&ran](PgSession&) { ++ran; });
  pool.stop();
  EXPECT_EQ(ran.load(), 50);
  pool.stop();  // again: nothing
}

}  // namespace
}  // namespace errand::postgres
