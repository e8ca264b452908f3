// The four workloads of SPEC §6 (docs/cli.md, "errand bench"), each a
// coroutine on the one io_context thread of the run, and what they share.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>

#include "bench/bench.hpp"
#include "bench/http_connection.hpp"
#include "bench/progress.hpp"
#include "bench/results.hpp"
#include "bench/task_group.hpp"

namespace errand::bench {

using Clock = std::chrono::steady_clock;

struct RunContext {
  boost::asio::any_io_executor executor;
  const BenchArgs& args;
  const ServerAddress& server;
  std::string queue;  // the queue the workload uses (args.queue or a fresh one)
  Abort& abort;
  Progress& progress;
};

// W1: args.jobs submits, args.window requests in flight (batches of
// args.batch when set).
boost::asio::awaitable<BenchResult> run_enqueue(RunContext& context);
// W2: enqueues args.jobs (not timed), then leases and acks them all.
boost::asio::awaitable<BenchResult> run_drain(RunContext& context);
// W3: submits with Prefer: wait, worked by an in-process worker; one run per
// concurrency, or open loop at args.rate.
boost::asio::awaitable<BenchResult> run_round_trips(RunContext& context);
// W4: W3 without and then beside args.waits open waits, and the server's
// memory for them.
boost::asio::awaitable<BenchResult> run_waiters(RunContext& context);

// Nanoseconds between two instants, for LatencyHistogram.
inline std::uint64_t nanoseconds(Clock::duration d) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

inline double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace errand::bench
