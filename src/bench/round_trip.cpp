#include "bench/round_trip.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench/connection_pool.hpp"
#include "bench/server_api.hpp"

namespace errand::bench {
namespace {

// The worker: four lease loops of up to 16 jobs, as the peers' harness runs
// its W3 worker (../shared/peers/adapters), so the figures compare.
constexpr int kWorkerLoops = 4;
constexpr int kWorkerLease = 16;
constexpr int kWorkerWaitSeconds = 5;
// Each caller's `Prefer: wait`: a round trip not done by then is an error.
constexpr int kCallerWaitSeconds = 10;
constexpr std::string_view kCallerPrefer = "wait=10";
// The open loop's connections at most; arrivals beyond wait for one.
constexpr std::size_t kOpenLoopConnections = 1024;

Clock::duration seconds_duration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// One round trip on `connection`; throws unless it came back succeeded.
net::awaitable<void> round_trip(RunContext& context, HttpConnection& connection,
                                const std::string& target) {
  const HttpResponse response =
      co_await connection.request("POST", target, job_body(), kCallerPrefer,
                                  kRequestTimeout + std::chrono::seconds(kCallerWaitSeconds));
  expect_round_trip(response, target, context.server);
}

net::awaitable<void> caller(RunContext& context, Run& run, Clock::time_point measure_from,
                            Clock::time_point until) {
  HttpConnection connection(context.executor, context.server);
  if (std::string error = co_await connection.connect(); !error.empty()) {
    throw BenchFailure("cannot reach errand at " + context.server.url + ": " + error);
  }
  const std::string target = jobs_target(context.queue);
  while (Clock::now() < until) {
    const auto start = Clock::now();
    co_await round_trip(context, connection, target);
    const auto end = Clock::now();
    ++run.total;
    context.progress.add();
    if (start >= measure_from && end <= until) {
      ++run.count;
      run.latency.record(nanoseconds(end - start));
    }
  }
}

struct OpenLoopState {
  Run run;
  Clock::time_point last_measured_end;
};

net::awaitable<void> arrival(RunContext& context, ConnectionPool& pool, OpenLoopState& state,
                             Clock::time_point intended, bool measured) {
  std::unique_ptr<HttpConnection> connection = co_await pool.acquire();
  co_await round_trip(context, *connection, jobs_target(context.queue));
  pool.release(std::move(connection));
  const auto end = Clock::now();
  ++state.run.total;
  context.progress.add();
  if (measured) {
    ++state.run.count;
    state.run.latency.record(nanoseconds(end - intended));
    state.last_measured_end = std::max(state.last_measured_end, end);
  }
}

}  // namespace

void RoundTripWorker::start(TaskGroup& group) {
  for (int i = 0; i < kWorkerLoops; ++i) {
    connections_.push_back(std::make_unique<HttpConnection>(context_.executor, context_.server));
    group.spawn(lease_loop(*connections_.back()));
  }
}

void RoundTripWorker::stop() {
  stopping_ = true;
  for (auto& connection : connections_) connection->close();
}

net::awaitable<void> RoundTripWorker::lease_loop(HttpConnection& connection) {
  while (!stopping_) {
    try {
      const std::vector<LeasedJob> jobs = co_await lease(
          connection, context_.server, context_.queue, kWorkerLease, kWorkerWaitSeconds);
      if (!jobs.empty()) co_await ack_all(connection, context_.server, jobs);
    } catch (const BenchFailure&) {
      if (stopping_) co_return;  // stop() cut the long poll short
      throw;
    }
  }
}

net::awaitable<Run> closed_loop(RunContext& context, int concurrency, std::string label) {
  Run run;
  run.label = std::move(label);
  run.concurrency = concurrency;
  context.progress.begin("w3 " + run.label, "round trips", 0);
  const auto start = Clock::now();
  const auto measure_from = start + seconds_duration(context.args.warmup_seconds);
  const auto until = measure_from + seconds_duration(context.args.duration_seconds);
  TaskGroup group(context.executor, context.abort);
  for (int i = 0; i < concurrency; ++i) group.spawn(caller(context, run, measure_from, until));
  co_await group.wait();
  run.seconds = seconds_between(measure_from, until);
  co_return run;
}

net::awaitable<Run> open_loop(RunContext& context) {
  const double rate = *context.args.rate;
  OpenLoopState state;
  state.run.rate = rate;
  char label[64];
  std::snprintf(label, sizeof label, "rate=%g/s", rate);
  state.run.label = label;
  context.progress.begin("w3 open loop " + state.run.label, "round trips", 0);

  const auto arrivals = static_cast<std::int64_t>(
      std::ceil((context.args.warmup_seconds + context.args.duration_seconds) * rate));
  const auto start = Clock::now();
  const auto measure_from = start + seconds_duration(context.args.warmup_seconds);
  const auto until = measure_from + seconds_duration(context.args.duration_seconds);
  state.last_measured_end = until;
  ConnectionPool pool(context.executor, context.server, kOpenLoopConnections);
  TaskGroup group(context.executor, context.abort);
  net::steady_timer timer(context.executor);
  for (std::int64_t i = 0; i < arrivals; ++i) {
    const auto intended = start + seconds_duration(static_cast<double>(i) / rate);
    timer.expires_at(intended);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    group.spawn(arrival(context, pool, state, intended, intended >= measure_from));
  }
  co_await group.wait();
  // The measured arrivals, over the time from the first of them to the end of
  // the last: a server that falls behind stretches it.
  state.run.seconds = seconds_between(measure_from, state.last_measured_end);
  co_return std::move(state.run);
}

}  // namespace errand::bench
