#include "bench/bench.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace errand::bench {
namespace {

BenchArgs args_for(const char* workload) {
  BenchArgs args;
  args.workload = workload;
  return args;
}

TEST(CheckBenchArgs, TakesTheDefaultsOfEveryWorkload) {
  for (const char* w : {"w1", "w2", "w3", "w4"}) EXPECT_EQ(check_bench_args(args_for(w)), "") << w;
}

TEST(CheckBenchArgs, NamesTheWorkloadsForAnUnknownOne) {
  EXPECT_EQ(check_bench_args(args_for("w5")),
            "unknown workload 'w5': choose w1 (enqueue), w2 (drain), w3 (round trips) or w4 "
            "(open waits)");
}

TEST(CheckBenchArgs, RefusesCountsOutOfRange) {
  BenchArgs args = args_for("w1");
  args.window = 0;
  EXPECT_NE(check_bench_args(args).find("--window"), std::string::npos);
  args = args_for("w1");
  args.jobs = 0;
  EXPECT_NE(check_bench_args(args).find("--jobs"), std::string::npos);
  args = args_for("w1");
  args.batch = kMaxBatch + 1;
  EXPECT_NE(check_bench_args(args).find("--batch"), std::string::npos);
  args = args_for("w3");
  args.concurrency = {1, 0};
  EXPECT_NE(check_bench_args(args).find("--concurrency"), std::string::npos);
  args = args_for("w4");
  args.waits = 0;
  EXPECT_NE(check_bench_args(args).find("--waits"), std::string::npos);
}

TEST(CheckBenchArgs, RefusesARateThatIsNotAPositiveNumber) {
  for (const double rate : {0.0, -1.0, std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::quiet_NaN()}) {
    BenchArgs args = args_for("w3");
    args.rate = rate;
    EXPECT_NE(check_bench_args(args).find("--rate must be"), std::string::npos) << rate;
  }
}

TEST(CheckBenchArgs, RefusesOptionsOfAnotherWorkload) {
  BenchArgs args = args_for("w2");
  args.batch = 10;
  EXPECT_EQ(check_bench_args(args), "--batch is for w1 only");
  args = args_for("w1");
  args.rate = 10;
  EXPECT_EQ(check_bench_args(args), "--rate is for w3 only");
  args = args_for("w3");
  args.rate = 10;
  args.concurrency = {4};
  EXPECT_EQ(check_bench_args(args),
            "--rate (open loop) and --concurrency (closed loop) exclude each other");
  args = args_for("w4");
  args.concurrency = {1, 32};
  EXPECT_EQ(check_bench_args(args), "w4 takes one --concurrency");
}

TEST(CheckBenchArgs, RefusesDurationsOutOfRange) {
  BenchArgs args = args_for("w3");
  args.duration_seconds = 0;
  EXPECT_NE(check_bench_args(args).find("--duration"), std::string::npos);
  args = args_for("w3");
  args.warmup_seconds = -1;
  EXPECT_NE(check_bench_args(args).find("--warmup"), std::string::npos);
  args.warmup_seconds = 0;  // no warm-up is fine
  EXPECT_EQ(check_bench_args(args), "");
}

TEST(CheckBenchArgs, SpeaksPlainHttpOnly) {
  BenchArgs args = args_for("w1");
  args.server.url = "https://127.0.0.1:7400";
  EXPECT_EQ(check_bench_args(args),
            "errand bench speaks plain http:// only (it measures the server, not TLS)");
  args.server.url = "127.0.0.1:7400";
  EXPECT_NE(check_bench_args(args).find("must be an http:// or https:// URL"), std::string::npos);
}

TEST(CheckBenchArgs, NeedsRoomForTheIdleQueueName) {
  BenchArgs args = args_for("w4");
  args.queue = std::string(kMaxBenchQueueName, 'q');
  EXPECT_EQ(check_bench_args(args), "");
  args.queue += 'q';
  EXPECT_NE(check_bench_args(args).find("not a valid queue name"), std::string::npos);
}

}  // namespace
}  // namespace errand::bench
