// What a workload measured, for the report (report.hpp). Plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench.hpp"
#include "core/latency_histogram.hpp"

namespace errand::bench {

// One measured run: all of w1 or w2, one concurrency (or rate) of w3, w3
// without or with the open waits of w4.
struct Run {
  std::string label;  // "w1", "C=32", "rate=500/s", "C=32, 10000 waits"
  std::optional<int> concurrency;
  std::optional<double> rate;
  std::uint64_t count = 0;   // jobs or round trips measured
  std::uint64_t total = 0;   // also those of the warm-up and the tail after it
  double seconds = 0;        // the time `count` took
  LatencyHistogram latency;  // nanoseconds; what it times: BenchResult::latency_of

  double per_second() const { return seconds > 0 ? static_cast<double>(count) / seconds : 0; }
};

// W4: the server's resident memory without and with the open waits.
struct MemoryUse {
  std::string source;  // "/proc/PID/status" or "/metrics"; empty: unknown
  std::optional<std::uint64_t> before_bytes;
  std::optional<std::uint64_t> with_waits_bytes;
};

struct BenchResult {
  BenchResult() = default;
  BenchResult(Workload workload, std::string unit, std::string latency_of)
      : workload(workload), unit(std::move(unit)), latency_of(std::move(latency_of)) {}

  Workload workload = Workload::kEnqueue;
  std::string queue;
  std::string unit;        // "jobs" or "round trips"
  std::string latency_of;  // "submit request", "lease and ack", "round trip"
  std::vector<Run> runs;
  std::optional<double> preload_seconds;  // w2: enqueueing the jobs to drain
  std::int64_t waits = 0;                 // w4: waits held open
  std::optional<MemoryUse> memory;        // w4
  // The queue's counts by state once the run is over (GET /v1/queues/Q);
  // filled in by run_bench, like `queue`.
  std::map<std::string, std::int64_t> queue_counts;
};

}  // namespace errand::bench
