// W2: drain throughput. args.jobs jobs are enqueued first (batches of 1000,
// four requests in flight, not timed); then one worker drains them: lease
// loops, each on its own keep-alive connection, long-poll up to 64 jobs and
// ack them with one batch ack, holding at most args.window jobs in all.
#include <algorithm>

#include "bench/server_api.hpp"
#include "bench/workloads.hpp"

namespace errand::bench {
namespace {

constexpr int kMaxLease = 64;
constexpr int kPreloadInFlight = 4;
// A drain that leases nothing for this long has lost jobs to someone else.
constexpr auto kDryTimeout = std::chrono::seconds(10);

struct DrainState {
  std::int64_t leased = 0;
  std::int64_t acked = 0;
  Clock::time_point last_lease;
  Clock::time_point finished;
  Run run;
};

net::awaitable<void> preload(RunContext& context, std::int64_t& claimed) {
  HttpConnection connection(context.executor, context.server);
  while (claimed < context.args.jobs) {
    const auto n = static_cast<int>(std::min<std::int64_t>(kMaxBatch, context.args.jobs - claimed));
    claimed += n;
    co_await submit_batch(connection, context.server, context.queue, n);
    context.progress.add(static_cast<std::uint64_t>(n));
  }
}

net::awaitable<void> lease_loop(RunContext& context, DrainState& state, int per_lease) {
  HttpConnection connection(context.executor, context.server);
  while (state.leased < context.args.jobs) {
    const auto start = Clock::now();
    const std::vector<LeasedJob> jobs =
        co_await lease(connection, context.server, context.queue, per_lease, 1);
    if (jobs.empty()) {
      if (Clock::now() - state.last_lease > kDryTimeout) {
        throw BenchFailure("the queue " + context.queue + " ran dry after " +
                           std::to_string(state.leased) + " of " +
                           std::to_string(context.args.jobs) +
                           " jobs: is another worker taking its jobs?");
      }
      continue;
    }
    state.leased += static_cast<std::int64_t>(jobs.size());
    state.last_lease = Clock::now();
    co_await ack_all(connection, context.server, jobs);
    state.run.latency.record(nanoseconds(Clock::now() - start));
    state.acked += static_cast<std::int64_t>(jobs.size());
    context.progress.add(jobs.size());
    if (state.acked >= context.args.jobs && state.finished == Clock::time_point()) {
      state.finished = Clock::now();
    }
  }
}

}  // namespace

net::awaitable<BenchResult> run_drain(RunContext& context) {
  const BenchArgs& args = context.args;
  BenchResult result(Workload::kDrain, "jobs", "lease and ack");

  context.progress.begin("w2 enqueue (not timed)", "jobs", static_cast<std::uint64_t>(args.jobs));
  const auto preload_start = Clock::now();
  std::int64_t claimed = 0;
  {
    TaskGroup group(context.executor, context.abort);
    for (int i = 0; i < kPreloadInFlight; ++i) group.spawn(preload(context, claimed));
    co_await group.wait();
  }
  result.preload_seconds = seconds_between(preload_start, Clock::now());

  // At least two loops, so that one leases while another acks.
  const int loops = std::max(2, (args.window + kMaxLease - 1) / kMaxLease);
  const int per_lease = std::min(kMaxLease, (args.window + loops - 1) / loops);
  DrainState state;
  state.run.label = "w2";
  context.progress.begin("w2 drain", "jobs", static_cast<std::uint64_t>(args.jobs));
  const auto start = Clock::now();
  state.last_lease = start;
  {
    TaskGroup group(context.executor, context.abort);
    for (int i = 0; i < loops; ++i) group.spawn(lease_loop(context, state, per_lease));
    co_await group.wait();
  }
  state.run.count = static_cast<std::uint64_t>(state.acked);
  state.run.total = state.run.count;
  state.run.seconds = seconds_between(start, state.finished);
  result.runs.push_back(std::move(state.run));
  co_return result;
}

}  // namespace errand::bench
