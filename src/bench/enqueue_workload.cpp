// W1: enqueue throughput. args.window senders, each on a keep-alive
// connection of its own, claim jobs from a shared count until args.jobs are
// submitted: one job per POST .../jobs, or args.batch per POST .../batch.
#include <algorithm>

#include "bench/server_api.hpp"
#include "bench/workloads.hpp"

namespace errand::bench {
namespace {

struct EnqueueState {
  std::int64_t claimed = 0;  // jobs handed to a sender
  Run run;
};

net::awaitable<void> send_jobs(RunContext& context, EnqueueState& state) {
  const std::int64_t jobs = context.args.jobs;
  const int per_request = context.args.batch.value_or(1);
  const std::string target =
      context.args.batch ? batch_target(context.queue) : jobs_target(context.queue);
  const std::string full_batch = context.args.batch ? batch_body(per_request) : job_body();
  HttpConnection connection(context.executor, context.server);
  while (state.claimed < jobs) {
    const auto n = static_cast<int>(std::min<std::int64_t>(per_request, jobs - state.claimed));
    state.claimed += n;
    // Only the last request of a batched run may be short.
    const std::string short_batch = n == per_request ? std::string() : batch_body(n);
    const std::string& body = short_batch.empty() ? full_batch : short_batch;
    const auto start = Clock::now();
    const HttpResponse response =
        co_await connection.request("POST", target, body, {}, kRequestTimeout);
    expect_status(response, 202, "POST", target, context.server);
    state.run.latency.record(nanoseconds(Clock::now() - start));
    state.run.count += static_cast<std::uint64_t>(n);
    context.progress.add(static_cast<std::uint64_t>(n));
  }
}

}  // namespace

net::awaitable<BenchResult> run_enqueue(RunContext& context) {
  const BenchArgs& args = context.args;
  BenchResult result(Workload::kEnqueue, "jobs", args.batch ? "batch request" : "submit request");
  EnqueueState state;
  state.run.label = "w1";

  const std::int64_t requests = (args.jobs + args.batch.value_or(1) - 1) / args.batch.value_or(1);
  const auto senders = static_cast<int>(std::min<std::int64_t>(args.window, requests));
  context.progress.begin("w1 enqueue", "jobs", static_cast<std::uint64_t>(args.jobs));
  const auto start = Clock::now();
  TaskGroup group(context.executor, context.abort);
  for (int i = 0; i < senders; ++i) group.spawn(send_jobs(context, state));
  co_await group.wait();
  state.run.seconds = seconds_between(start, Clock::now());
  state.run.total = state.run.count;
  result.runs.push_back(std::move(state.run));
  co_return result;
}

}  // namespace errand::bench
