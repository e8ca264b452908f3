// `errand bench`: the load generator of SPEC §6 (docs/cli.md, "errand
// bench"). src/server/main.cpp parses the command line into BenchArgs and
// calls run_bench(); everything else about the benchmark is in src/bench/.
// This header includes no Boost: main.cpp is slow enough to compile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.hpp"

namespace errand::bench {

enum class Workload { kEnqueue, kDrain, kRoundTrip, kWaiters };  // w1, w2, w3, w4

struct BenchArgs {
  cli::ServerArgs server;
  std::string workload;         // "w1".."w4"; checked by check_bench_args
  std::string queue;            // empty: bench-<workload>-<unix ms>, a queue of its own
  std::int64_t jobs = 100'000;  // w1, w2
  int window = 64;              // w1: requests in flight; w2: jobs the worker holds
  std::optional<int> batch;     // w1: jobs per POST .../batch; unset: single-job submits
  // w3, w4: closed-loop callers, one run per value; unset: 1 (w3), 32 (w4).
  std::vector<int> concurrency;
  std::optional<double> rate;  // w3: open loop, arrivals per second
  double duration_seconds = 10;
  double warmup_seconds = 2;
  std::int64_t waits = 10'000;  // w4: open waits
  bool sse = false;  // w4: hold event streams (GET /v1/jobs/ID/events) instead of long polls
  std::optional<int> server_pid;  // w4: read the server's RSS from /proc/PID/status
  bool json = false;              // one JSON document on stdout instead of a table
  bool quiet = false;             // no progress line
};

// The most jobs a batch request may hold (docs/api.md) and a run may ask for.
inline constexpr int kMaxBatch = 1000;
inline constexpr std::int64_t kMaxJobs = 100'000'000;
inline constexpr std::int64_t kMaxWaits = 1'000'000;
inline constexpr int kMaxWindow = 10'000;
inline constexpr int kMaxConcurrency = 10'000;
// W4 waits on jobs of the queue --queue + this, which nobody works.
inline constexpr std::string_view kIdleQueueSuffix = "-idle";
// The longest --queue, so that the idle queue's name fits in 128 characters.
inline constexpr std::size_t kMaxBenchQueueName = 123;

// Why `args` cannot run (one sentence, without "errand: "), or empty.
std::string check_bench_args(const BenchArgs& args);

// Runs the benchmark, prints the report on stdout and returns the exit
// code: 0 done, 2 bad usage, an unreachable server or an unexpected answer
// (a benchmark with errors measures nothing, so the first one stops it).
int run_bench(const BenchArgs& args);

}  // namespace errand::bench
