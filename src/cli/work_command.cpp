// `errand work QUEUE... -- CMD ARGS...`: an errand::Worker whose handler runs
// CMD for each job (command_runner.hpp) and turns how it ended into the
// job's result or error (job_outcome.hpp). Signals: the first SIGTERM or
// SIGINT drains (running commands finish and are reported, nothing new is
// leased); the next one stops the running commands too.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "cli/client_errors.hpp"
#include "cli/command_runner.hpp"
#include "cli/commands.hpp"
#include "cli/flow_inputs_file.hpp"
#include "cli/job_environment.hpp"
#include "cli/job_outcome.hpp"
#include "cli/progress_line.hpp"
#include "core/queue_name.hpp"
#include "errand/worker.hpp"

namespace errand::cli {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kProgressInterval{200};

// Signal handler state. Lock-free atomics only: the handler may touch
// nothing else.
std::atomic<Worker*> g_worker{nullptr};
std::atomic<int> g_signals{0};
std::atomic<bool> g_stop_commands{false};
static_assert(std::atomic<Worker*>::is_always_lock_free && std::atomic<int>::is_always_lock_free &&
              std::atomic<bool>::is_always_lock_free);

void write_stderr(const char* text) {
  // write(2) is async-signal-safe; stdio is not.
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, text, std::strlen(text));
}

extern "C" void on_stop_signal(int /*sig*/) {
  const int saved_errno = errno;  // the interrupted code may be about to read it
  const int seen = g_signals.fetch_add(1) + 1;
  if (seen == 1) {
    write_stderr(
        "errand work: draining: running jobs finish, no new ones are leased "
        "(signal again to stop the running commands)\n");
    if (Worker* w = g_worker.load()) w->stop();
  } else if (seen == 2) {
    write_stderr("errand work: stopping the running commands\n");
    g_stop_commands.store(true);
  }
  errno = saved_errno;
}

// Installs the handlers for its lifetime.
class StopSignals {
 public:
  explicit StopSignals(Worker& worker) {
    g_signals.store(0);
    g_stop_commands.store(false);
    g_worker.store(&worker);
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGTERM, &sa, &old_term_);
    ::sigaction(SIGINT, &sa, &old_int_);
  }
  ~StopSignals() {
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGINT, &old_int_, nullptr);
    g_worker.store(nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_term_ {};
  struct sigaction old_int_ {};
};

milliseconds seconds_to_ms(double seconds) {
  return milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000.0)));
}

// One line on the worker's stderr (stdio locks the stream per call, so
// lines of concurrent jobs do not interleave mid-line).
void log_line(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

class CommandHandler {
 public:
  explicit CommandHandler(const WorkArgs& args) : args_(args), base_env_(current_environment()) {
    if (args.timeout_seconds) limits_.timeout = seconds_to_ms(*args.timeout_seconds);
    limits_.kill_grace = seconds_to_ms(args.kill_grace_seconds);
    failure_context_.timeout = limits_.timeout;
    failure_context_.max_stdout = limits_.max_stdout;
  }

  std::string operator()(JobContext& ctx) const {
    const LeasedJob& job = ctx.job();
    // Removed when the command has ended (and on every way out of here).
    std::optional<FlowInputsFile> inputs_file;
    if (flow_inputs_need_file(job)) {
      try {
        inputs_file.emplace(job.flow->inputs_json);
      } catch (const std::system_error& e) {
        throw JobFailure(std::string("the flow inputs could not be handed over: ") + e.what(),
                         "spawn");
      }
    }
    CommandSpec spec{args_.command,
                     job_environment(base_env_, job, inputs_file ? inputs_file->path() : ""),
                     job.payload};
    ProgressThrottle throttle(kProgressInterval);
    RunHooks hooks;
    hooks.on_progress = [&](const ProgressLine& p) { throttle.offer(p); };
    if (!args_.quiet) {
      hooks.on_stderr_line = [&](std::string_view line) {
        log_line("[" + job.id + "] " + std::string(line));
      };
    }
    hooks.on_tick = [&] {
      if (auto p = throttle.due(ProgressThrottle::Clock::now())) report_progress(ctx, *p);
      if (g_stop_commands.load()) return StopReason::kShutdown;
      if (ctx.cancel_requested()) return StopReason::kCancelled;
      if (ctx.lease_lost()) return StopReason::kLeaseLost;
      return StopReason::kNone;
    };

    const RunOutcome outcome = run_command(spec, limits_, hooks);
    // The last report (often "100 done") goes out before the outcome.
    if (auto p = throttle.flush(); p && !ctx.lease_lost()) report_progress(ctx, *p);
    const std::string took = format_duration(outcome.elapsed);
    if (outcome.succeeded()) {
      if (!args_.quiet) log_line("errand work: job " + job.id + " succeeded in " + took);
      return result_from_stdout(outcome.stdout_data);
    }
    const FailRequest f = failure_from_outcome(outcome, failure_context_);
    if (!args_.quiet) {
      log_line("errand work: job " + job.id + " failed (" + f.type + ") after " + took + ": " +
               f.message);
    }
    throw JobFailure(f.message, f.type, f.detail, f.retry, f.retry_in_ms);
  }

 private:
  static void report_progress(JobContext& ctx, const ProgressLine& p) {
    try {
      ctx.progress(p.percent, p.message);
    } catch (const std::exception& e) {
      // Progress is best effort: a report that cannot be sent must not fail the job.
      log_line("errand work: job " + ctx.job().id + ": progress not sent: " + e.what());
    }
  }

  const WorkArgs& args_;
  const std::vector<std::string> base_env_;
  RunLimits limits_;
  FailureContext failure_context_;
};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "errand: %s\n", as_sentence(message).c_str());
  return kExitError;
}

std::string joined(const std::vector<std::string>& words, const char* separator) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += separator;
    out += w;
  }
  return out;
}

}  // namespace

int run_work(const WorkArgs& args) {
  if (const std::string why = check_server_url(args.server.url); !why.empty()) {
    return usage_error(why);
  }
  // The command first: `errand work images ./resize.sh` (no --) is the likely
  // slip, and its script would otherwise be reported as a bad queue name.
  if (args.command.empty()) {
    return usage_error(
        "errand work needs the command to run after --, e.g. errand work images -- ./resize.sh");
  }
  if (args.queues.empty()) return usage_error("errand work needs at least one queue");
  for (const auto& q : args.queues) {
    if (!is_valid_queue_name(q)) {
      return usage_error("'" + q +
                         "' is not a valid queue name: use up to 128 letters, digits, '.', '_' "
                         "or '-', starting with a letter or digit");
    }
  }
  if (!is_runnable(args.command.front())) {
    return usage_error("cannot run '" + args.command.front() +
                       "': it is not an executable file, nor found in PATH");
  }
  WorkerOptions options;
  options.client.server = args.server.url;
  options.client.token = args.server.token;
  options.client.ca_file = args.server.ca_file;
  options.queues = args.queues;
  options.name = args.name;
  options.concurrency = args.concurrency;
  options.lease = milliseconds(args.lease_ms);
  // The library's notable events (server away and back, lost leases) under
  // the same prefix as ours; kept with --quiet, which silences only routine.
  options.log = [](std::string_view line) { log_line("errand work: " + std::string(line)); };

  CommandHandler handler(args);
  try {
    Worker worker(options, [&handler](JobContext& ctx) { return handler(ctx); });
    StopSignals signals(worker);
    if (!args.quiet) {
      log_line("errand work: running '" + joined(args.command, " ") + "' for " +
               joined(args.queues, ", ") + " from " + args.server.url + " (concurrency " +
               std::to_string(args.concurrency) + ")");
    }
    worker.run();
    const WorkerStats stats = worker.stats();
    if (!args.quiet) {
      log_line("errand work: stopped after " + std::to_string(stats.succeeded) + " succeeded, " +
               std::to_string(stats.failed) + " failed, " + std::to_string(stats.lease_lost) +
               " lost leases");
    }
  } catch (const Error& e) {
    const CliError err = describe_error(e, args.server.url);
    return usage_error(err.message);
  }
  return kExitOk;
}

}  // namespace errand::cli
