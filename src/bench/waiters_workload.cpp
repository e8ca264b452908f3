// W4: what open waits cost. W3 runs once alone, then args.waits requests
// `GET /v1/jobs/{id}` with `Prefer: wait=60` (or, with --sse, event streams
// `GET /v1/jobs/{id}/events`) are held open on jobs nobody works (one job
// each, in a queue of their own, asked again when a wait ends), and W3 runs
// again beside them. Reports the server's resident memory before and with
// the waits, and both W3 runs.
#include <algorithm>

#include "bench/round_trip.hpp"
#include "bench/server_api.hpp"
#include "bench/server_memory.hpp"

namespace errand::bench {
namespace {

constexpr int kDefaultConcurrency = 32;
// Connections opened at once: beyond the server's accept backlog, a SYN is
// dropped and retried a second later.
constexpr std::size_t kConnectWave = 256;
constexpr int kWaitSeconds = 60;
constexpr std::string_view kWaitPrefer = "wait=60";
constexpr auto kOpenTimeout = std::chrono::seconds(60);
// Without /metrics to say when the server holds every wait: time to take them in.
constexpr auto kSettleWithoutMetrics = std::chrono::seconds(2);

class OpenWaits {
 public:
  OpenWaits(RunContext& context, std::vector<std::string> job_ids)
      : context_(context),
        job_ids_(std::move(job_ids)),
        group_(context.executor, context.abort),
        sse_(context.args.sse) {}

  // Connects one connection per job, kConnectWave at a time, and starts its wait.
  net::awaitable<void> open() {
    context_.progress.begin("w4 opening waits", "waits", job_ids_.size());
    for (std::size_t first = 0; first < job_ids_.size(); first += kConnectWave) {
      const std::size_t last = std::min(job_ids_.size(), first + kConnectWave);
      TaskGroup wave(context_.executor, context_.abort);
      for (std::size_t i = first; i < last; ++i) {
        connections_.push_back(
            std::make_unique<HttpConnection>(context_.executor, context_.server));
        wave.spawn(connect(*connections_.back()));
      }
      co_await wave.wait();
      for (std::size_t i = first; i < last; ++i)
        group_.spawn(wait_loop(*connections_[i], job_ids_[i]));
    }
  }

  net::awaitable<void> close() {
    stopping_ = true;
    for (auto& connection : connections_) connection->close();
    co_await group_.wait();
  }

 private:
  net::awaitable<void> connect(HttpConnection& connection) {
    if (std::string error = co_await connection.connect(); !error.empty()) {
      throw BenchFailure("cannot open wait connection " + std::to_string(connections_.size()) +
                         " to " + context_.server.url + ": " + error);
    }
    context_.progress.add();
  }

  // Holds a wait on job `id` until close(): a long poll asked again each
  // time it ends, or an event stream opened again should the server end it.
  net::awaitable<void> wait_loop(HttpConnection& connection, const std::string& id) {
    const std::string target = "/v1/jobs/" + id + (sse_ ? "/events" : "");
    const auto timeout = kRequestTimeout + std::chrono::seconds(kWaitSeconds);
    while (!stopping_) {
      HttpResponse response;
      if (sse_) {
        response = co_await connection.open_stream(target, kRequestTimeout);
      } else {
        response = co_await connection.request("GET", target, {}, kWaitPrefer, timeout);
      }
      if (stopping_) co_return;
      if (response.status == 503) {
        throw BenchFailure("GET " + target + " answered 503 with " +
                           std::to_string(job_ids_.size()) +
                           " waits opening: the server's --max-connections (default 10000) must "
                           "exceed the waits plus the callers and about 10 more");
      }
      expect_status(response, 200, "GET", target, context_.server);
      // Keep-alive comments come every 15 s: a silent stream is a dead one.
      if (sse_) co_await connection.read_stream(timeout);
    }
  }

  RunContext& context_;
  std::vector<std::string> job_ids_;
  std::vector<std::unique_ptr<HttpConnection>> connections_;
  TaskGroup group_;
  const bool sse_;
  bool stopping_ = false;
};

net::awaitable<void> pause(RunContext& context, Clock::duration how_long) {
  net::steady_timer timer(context.executor, how_long);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

// The server's resident memory, by --server-pid or /metrics; nullopt when
// neither tells.
net::awaitable<std::optional<std::uint64_t>> server_rss(RunContext& context, HttpConnection& probe,
                                                        MemoryUse& memory) {
  if (const auto pid = context.args.server_pid) {
    memory.source = "/proc/" + std::to_string(*pid) + "/status";
    const auto rss = read_process_rss(*pid);
    if (!rss) throw BenchFailure("cannot read " + memory.source + ": has the server exited?");
    co_return rss;
  }
  const std::string text = co_await metrics_text(probe, context.server);
  if (const auto rss = metric_value(text, "process_resident_memory_bytes")) {
    memory.source = "/metrics";
    co_return static_cast<std::uint64_t>(*rss);
  }
  co_return std::nullopt;
}

// What the server counts the waits as: open waits, or open SSE streams.
net::awaitable<std::optional<double>> open_waits_metric(RunContext& context,
                                                        HttpConnection& probe) {
  const std::string text = co_await metrics_text(probe, context.server);
  co_return metric_value(text, context.args.sse ? "errand_sse_streams" : "errand_open_waits");
}

// Returns once the server reports `waits` more open waits than `baseline`.
net::awaitable<void> until_waits_are_held(RunContext& context, HttpConnection& probe,
                                          std::optional<double> baseline, std::int64_t waits) {
  if (!baseline) {
    co_await pause(context, kSettleWithoutMetrics);
    co_return;
  }
  const auto deadline = Clock::now() + kOpenTimeout;
  for (;;) {
    const std::optional<double> now_open = co_await open_waits_metric(context, probe);
    const double open = now_open.value_or(0);
    if (open >= *baseline + static_cast<double>(waits)) co_return;
    if (Clock::now() > deadline) {
      throw BenchFailure("the server holds only " +
                         std::to_string(static_cast<std::int64_t>(open - *baseline)) + " of the " +
                         std::to_string(waits) + " waits after " +
                         std::to_string(kOpenTimeout.count()) + " s");
    }
    co_await pause(context, std::chrono::milliseconds(100));
  }
}

// One job for each wait, in a queue nobody works.
net::awaitable<std::vector<std::string>> jobs_to_wait_on(RunContext& context,
                                                         HttpConnection& probe) {
  const std::string queue = context.queue + std::string(kIdleQueueSuffix);
  context.progress.begin("w4 enqueue jobs to wait on", "jobs",
                         static_cast<std::uint64_t>(context.args.waits));
  std::vector<std::string> ids;
  while (static_cast<std::int64_t>(ids.size()) < context.args.waits) {
    const auto n = static_cast<int>(std::min<std::int64_t>(
        kMaxBatch, context.args.waits - static_cast<std::int64_t>(ids.size())));
    std::vector<std::string> batch = co_await submit_batch(probe, context.server, queue, n);
    for (std::string& id : batch) ids.push_back(std::move(id));
    context.progress.add(static_cast<std::uint64_t>(n));
  }
  co_return ids;
}

}  // namespace

net::awaitable<BenchResult> run_waiters(RunContext& context) {
  const BenchArgs& args = context.args;
  BenchResult result(Workload::kWaiters, "round trips", "round trip");
  result.waits = args.waits;
  const int concurrency = args.concurrency.empty() ? kDefaultConcurrency : args.concurrency.front();
  const std::string label = "C=" + std::to_string(concurrency);

  HttpConnection probe(context.executor, context.server);
  TaskGroup worker_group(context.executor, context.abort);
  RoundTripWorker worker(context);
  worker.start(worker_group);
  result.runs.push_back(co_await closed_loop(context, concurrency, label + ", no waits"));

  MemoryUse memory;
  OpenWaits waits(context, co_await jobs_to_wait_on(context, probe));
  const std::optional<double> baseline = co_await open_waits_metric(context, probe);
  memory.before_bytes = co_await server_rss(context, probe, memory);
  co_await waits.open();
  co_await until_waits_are_held(context, probe, baseline, args.waits);
  memory.with_waits_bytes = co_await server_rss(context, probe, memory);
  const std::string waits_label =
      label + ", " + std::to_string(args.waits) + (args.sse ? " streams" : " waits");
  result.runs.push_back(co_await closed_loop(context, concurrency, waits_label));
  co_await waits.close();
  worker.stop();
  co_await worker_group.wait();

  result.memory = std::move(memory);
  co_return result;
}

}  // namespace errand::bench
