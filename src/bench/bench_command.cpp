// run_bench: checks the arguments, finds the server, runs the workload on
// one io_context thread and prints the report.
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>

#include "bench/bench.hpp"
#include "bench/report.hpp"
#include "bench/server_api.hpp"
#include "bench/server_memory.hpp"
#include "bench/workloads.hpp"
#include "cli/client_errors.hpp"

namespace errand::bench {
namespace {

// Descriptors bench needs beyond w4's waits: callers, worker, probe, stdio.
constexpr std::uint64_t kSpareDescriptors = 64;

int fail(const std::string& message) {
  std::fprintf(stderr, "errand: %s\n", cli::as_sentence(message).c_str());
  return cli::kExitError;
}

Workload workload_of(const std::string& name) {
  if (name == "w1") return Workload::kEnqueue;
  if (name == "w2") return Workload::kDrain;
  if (name == "w3") return Workload::kRoundTrip;
  return Workload::kWaiters;
}

// Host and port of an http:// URL (checked by check_bench_args); the host
// keeps no brackets.
struct HostPort {
  std::string host;
  std::string port = "80";
  std::string authority;  // for the Host header
};

HostPort split_url(std::string_view url) {
  url.remove_prefix(std::string_view("http://").size());
  HostPort out;
  out.authority = std::string(url.substr(0, url.find_first_of("/?#")));
  std::string_view authority = out.authority;
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::size_t colon = authority.rfind(':');
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    out.host = std::string(authority.substr(1, close - 1));
    colon = close + 1 < authority.size() && authority[close + 1] == ':' ? close + 1
                                                                        : std::string_view::npos;
  } else {
    out.host = std::string(authority.substr(0, colon));
  }
  if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  return out;
}

// Resolves the server once; the error, or empty.
std::string resolve(const BenchArgs& args, ServerAddress& server) {
  const HostPort hp = split_url(args.server.url);
  boost::asio::io_context context;
  boost::asio::ip::tcp::resolver resolver(context);
  boost::system::error_code ec;
  const auto results = resolver.resolve(hp.host, hp.port, ec);
  if (ec || results.empty()) {
    return "cannot reach errand at " + args.server.url + ": " +
           (ec ? ec.message() : std::string("no address"));
  }
  const auto endpoint = results.begin()->endpoint();
  server.url = args.server.url;
  server.ip = endpoint.address().to_string();
  server.port = endpoint.port();
  server.host_header = hp.authority;
  if (!args.server.token.empty()) server.authorization = "Bearer " + args.server.token;
  return {};
}

// W4 holds a connection per wait: raises the soft descriptor limit to the
// hard one. Returns why there are too few, or empty.
std::string make_room_for(std::int64_t waits) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  const auto needed = static_cast<std::uint64_t>(waits) + kSpareDescriptors;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
    return std::to_string(waits) + " waits need " + std::to_string(needed) +
           " file descriptors, and ulimit -n allows " + std::to_string(limit.rlim_max);
  }
  return {};
}

std::string fresh_queue(const std::string& workload) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return "bench-" + workload + "-" + std::to_string(ms);
}

net::awaitable<BenchResult> workload_coroutine(RunContext& context, Workload workload) {
  switch (workload) {
    case Workload::kEnqueue:
      return run_enqueue(context);
    case Workload::kDrain:
      return run_drain(context);
    case Workload::kRoundTrip:
      return run_round_trips(context);
    case Workload::kWaiters:
      break;
  }
  return run_waiters(context);
}

// The workload, then the state its queue was left in.
net::awaitable<BenchResult> run_workload(RunContext& context, Workload workload) {
  BenchResult result = co_await workload_coroutine(context, workload);
  result.queue = context.queue;
  HttpConnection connection(context.executor, context.server);
  result.queue_counts = co_await queue_counts(connection, context.server, context.queue);
  co_return result;
}

}  // namespace

int run_bench(const BenchArgs& args) {
  if (std::string why = check_bench_args(args); !why.empty()) return fail(why);
  const Workload workload = workload_of(args.workload);
  if (workload == Workload::kWaiters) {
    if (std::string why = make_room_for(args.waits); !why.empty()) return fail(why);
    if (args.server_pid && !read_process_rss(*args.server_pid)) {
      return fail("--server-pid " + std::to_string(*args.server_pid) +
                  ": no process whose memory can be read");
    }
  }
  ServerAddress server;
  if (std::string why = resolve(args, server); !why.empty()) return fail(why);

  std::optional<BenchResult> result;
  std::optional<std::string> failure;
  {
    std::optional<Progress> progress(std::in_place, !args.quiet);
    net::io_context io(1);
    Abort abort(io);
    RunContext context{io.get_executor(),
                       args,
                       server,
                       args.queue.empty() ? fresh_queue(args.workload) : args.queue,
                       abort,
                       *progress};
    // Ctrl-C ends the run cleanly: the progress line is erased, the
    // connections closed, and the exit status says it did not finish.
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&abort](const boost::system::error_code& ec, int) {
      if (!ec) abort.fail(std::make_exception_ptr(BenchFailure("interrupted: no report")));
    });
    net::co_spawn(io, run_workload(context, workload),
                  [&](const std::exception_ptr& e, BenchResult r) {
                    signals.cancel();
                    if (e) {
                      abort.fail(e);
                    } else {
                      result = std::move(r);
                    }
                  });
    io.run();
    failure = abort.message();
    progress.reset();  // erases the line before the report
  }
  if (failure) return fail(*failure);
  const std::string text =
      args.json ? report_json(args, *result) + "\n" : report_text(args, *result);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return cli::kExitOk;
}

}  // namespace errand::bench
