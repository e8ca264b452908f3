// check_bench_args: every usage error `errand bench` can name before it
// sends anything.
#include <cmath>

#include "bench/bench.hpp"
#include "cli/client_errors.hpp"
#include "core/queue_name.hpp"

namespace errand::bench {
namespace {

static_assert(kMaxBenchQueueName + kIdleQueueSuffix.size() == kMaxQueueNameLength);

bool is_positive_seconds(double s) { return std::isfinite(s) && s > 0 && s <= 24 * 3600; }

}  // namespace

std::string check_bench_args(const BenchArgs& args) {
  const std::string& w = args.workload;
  if (w != "w1" && w != "w2" && w != "w3" && w != "w4") {
    return "unknown workload '" + w +
           "': choose w1 (enqueue), w2 (drain), w3 (round trips) or "
           "w4 (open waits)";
  }
  if (std::string why = cli::check_server_url(args.server.url); !why.empty()) return why;
  if (args.server.url.starts_with("https://")) {
    return "errand bench speaks plain http:// only (it measures the server, not TLS)";
  }
  if (!args.queue.empty() && !is_valid_queue_name(args.queue + std::string(kIdleQueueSuffix))) {
    return "--queue '" + args.queue + "' is not a valid queue name of at most " +
           std::to_string(kMaxBenchQueueName) + " characters";
  }
  if (args.jobs < 1 || args.jobs > kMaxJobs) {
    return "--jobs must be between 1 and " + std::to_string(kMaxJobs);
  }
  if (args.window < 1 || args.window > kMaxWindow) {
    return "--window must be between 1 and " + std::to_string(kMaxWindow);
  }
  if (args.batch && (*args.batch < 1 || *args.batch > kMaxBatch)) {
    return "--batch must be between 1 and " + std::to_string(kMaxBatch);
  }
  if (args.batch && w != "w1") return "--batch is for w1 only";
  for (const int c : args.concurrency) {
    if (c < 1 || c > kMaxConcurrency) {
      return "--concurrency must be between 1 and " + std::to_string(kMaxConcurrency);
    }
  }
  if (w == "w4" && args.concurrency.size() > 1) return "w4 takes one --concurrency";
  if (args.rate) {
    if (!std::isfinite(*args.rate) || *args.rate <= 0 || *args.rate > 1e6) {
      return "--rate must be a number of arrivals a second above 0 and at most 1000000";
    }
    if (w != "w3") return "--rate is for w3 only";
    if (!args.concurrency.empty()) {
      return "--rate (open loop) and --concurrency (closed loop) exclude each other";
    }
  }
  if (!is_positive_seconds(args.duration_seconds)) {
    return "--duration must be above 0 and at most 86400 seconds";
  }
  if (!std::isfinite(args.warmup_seconds) || args.warmup_seconds < 0 ||
      args.warmup_seconds > 3600) {
    return "--warmup must be between 0 and 3600 seconds";
  }
  if (args.waits < 1 || args.waits > kMaxWaits) {
    return "--waits must be between 1 and " + std::to_string(kMaxWaits);
  }
  if (args.server_pid && *args.server_pid <= 0) return "--server-pid must be a process id";
  if (args.sse && w != "w4") return "--sse is for w4 only";
  return {};
}

}  // namespace errand::bench
