// W3: round trips through the server and an in-process worker, one closed
// loop run per concurrency, or one open loop run at args.rate.
#include "bench/round_trip.hpp"
#include "bench/server_api.hpp"

namespace errand::bench {

net::awaitable<BenchResult> run_round_trips(RunContext& context) {
  BenchResult result(Workload::kRoundTrip, "round trips",
                     context.args.rate ? "round trip from its intended send time" : "round trip");

  TaskGroup worker_group(context.executor, context.abort);
  RoundTripWorker worker(context);
  worker.start(worker_group);
  if (context.args.rate) {
    result.runs.push_back(co_await open_loop(context));
  } else {
    const std::vector<int> levels =
        context.args.concurrency.empty() ? std::vector<int>{1} : context.args.concurrency;
    for (const int concurrency : levels) {
      result.runs.push_back(
          co_await closed_loop(context, concurrency, "C=" + std::to_string(concurrency)));
    }
  }
  worker.stop();
  co_await worker_group.wait();
  co_return result;
}

}  // namespace errand::bench
