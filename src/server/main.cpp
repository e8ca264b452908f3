// The errand binary: parses the command line (CLI11 lives in this file only;
// it is slow to compile) and runs the chosen subcommand: `serve` here, the
// client subcommands in src/cli (docs/cli.md).
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>

#include "bench/bench.hpp"
#include "cli/commands.hpp"
#include "logging/log.hpp"
#include "server/config_file.hpp"
#include "server/serve.hpp"
#include "tracing/otlp_exporter.hpp"

namespace {

namespace cli = errand::cli;
using errand::server::kMaxHttpTimeoutMs;
using errand::server::kMaxShutdownTimeoutMs;

// The HTTP deadlines of `errand serve` in milliseconds, as parsed.
struct HttpTimeoutsMs {
  std::int64_t header = 10'000;
  std::int64_t body = 30'000;
  std::int64_t write = 30'000;
};

// --tls-cert, --tls-key and the HTTP deadlines of `errand serve` (docs/security.md).
void add_tls_and_timeout_options(CLI::App* serve, errand::server::ServeOptions& o,
                                 HttpTimeoutsMs& ms) {
  serve
      ->add_option("--tls-cert", o.tls_cert,
                   "Serve HTTPS with this PEM certificate (then any intermediates); needs "
                   "--tls-key")
      ->envname("ERRAND_TLS_CERT");
  serve->add_option("--tls-key", o.tls_key, "The PEM private key of --tls-cert (unencrypted)")
      ->envname("ERRAND_TLS_KEY");
  const auto timeout = [serve](const char* flag, std::int64_t& value, const char* env,
                               const char* what) {
    serve->add_option(flag, value, what)
        ->envname(env)
        ->check(CLI::Range(std::int64_t{1}, kMaxHttpTimeoutMs))
        ->capture_default_str();
  };
  timeout("--header-timeout-ms", ms.header, "ERRAND_HEADER_TIMEOUT_MS",
          "A request's head (and a TLS handshake) must arrive within this many milliseconds");
  timeout("--body-timeout-ms", ms.body, "ERRAND_BODY_TIMEOUT_MS",
          "A request's body must arrive within this many milliseconds after its head");
  timeout("--write-timeout-ms", ms.write, "ERRAND_WRITE_TIMEOUT_MS",
          "Each response write must complete within this many milliseconds");
}

// --server and --token; --ca-file too unless the subcommand speaks plain http only.
void add_server_options(CLI::App* cmd, cli::ServerArgs& server, bool tls = true) {
  cmd->add_option("--server", server.url, "Base URL of the errand server")
      ->envname("ERRAND_URL")
      ->capture_default_str();
  cmd->add_option("--token", server.token,
                  "Bearer token (prefer ERRAND_TOKEN: arguments are visible in ps)")
      ->envname("ERRAND_TOKEN");
  if (!tls) return;
  cmd->add_option("--ca-file", server.ca_file,
                  "PEM file of the CAs to trust for an https:// server (e.g. a private CA) "
                  "instead of the system's")
      ->envname("ERRAND_CA_FILE")
      ->check(CLI::ExistingFile);
}

void add_format_option(CLI::App* cmd, cli::Format& format) {
  const std::map<std::string, cli::Format> kFormats = {{"json", cli::Format::kJson},
                                                       {"table", cli::Format::kTable}};
  cmd->add_option("--format", format, "json (one document, default) or table (aligned columns)")
      ->transform(CLI::CheckedTransformer(kFormats, CLI::ignore_case));
}

void add_job_id(CLI::App* cmd, std::string& id) {
  cmd->add_option("ID", id, "The job's id (as printed by errand submit)")->required();
}

// `errand work QUEUE... -- CMD ARGS...`: everything after the first `--` is
// the command, so that its own options never reach CLI11. Only when the
// subcommand (the first argument that is not an option) is `work`: for the
// others `--` keeps its usual meaning (`errand submit q -- -5`). Returns how
// many arguments CLI11 should see.
int split_work_command(int argc, char** argv, std::vector<std::string>& command) {
  int first = 1;
  while (first < argc && argv[first][0] == '-') ++first;
  if (first >= argc || std::string_view(argv[first]) != "work") return argc;
  for (int i = first + 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") {
      command.assign(argv + i + 1, argv + argc);
      return i;
    }
  }
  return argc;
}

// `errand bench WORKLOAD`: its options into `args` (src/bench/bench.hpp).
template <typename OnParsed>
void add_bench_command(CLI::App& app, errand::bench::BenchArgs& args, const OnParsed& on_parsed) {
  CLI::App* bench = app.add_subcommand(
      "bench", "Load the server: w1 enqueue, w2 drain, w3 round trips, w4 open waits (SPEC 6)");
  bench->footer(
      "Prints a table and latency histograms on stdout (--json: one JSON document), a progress "
      "line on stderr. Exit status: 0 done, 2 usage error, unreachable server or any unexpected "
      "answer (the first one stops the run).\nExample: errand bench w3 --concurrency 1,32 "
      "--duration 10 --warmup 2");
  add_server_options(bench, args.server, false);
  bench->add_option("WORKLOAD", args.workload, "w1, w2, w3 or w4")->required();
  bench->add_option("--queue", args.queue, "Queue to use (default: a new one, bench-WORKLOAD-MS)");
  bench->add_option("--jobs", args.jobs, "w1, w2: jobs to submit or drain")->capture_default_str();
  bench
      ->add_option("--window", args.window,
                   "w1: requests in flight (one connection each); w2: jobs the worker holds")
      ->capture_default_str();
  bench->add_option("--batch", args.batch, "w1: jobs per POST /v1/queues/Q/batch (1..1000)");
  bench
      ->add_option("--concurrency", args.concurrency,
                   "w3: callers, a run for each (e.g. 1,32; default 1); w4: callers (default 32)")
      ->delimiter(',');
  bench->add_option("--rate", args.rate,
                    "w3: open loop, arrivals per second; latency counts from each intended send");
  bench->add_option("--duration", args.duration_seconds, "w3, w4: seconds measured per run")
      ->capture_default_str();
  bench->add_option("--warmup", args.warmup_seconds, "w3, w4: seconds before measuring")
      ->capture_default_str();
  bench->add_option("--waits", args.waits, "w4: open waits (GET /v1/jobs/ID, Prefer: wait=60)")
      ->capture_default_str();
  bench->add_flag("--sse", args.sse,
                  "w4: hold event streams (GET /v1/jobs/ID/events) instead of long polls");
  bench->add_option("--server-pid", args.server_pid,
                    "w4: read the server's memory from /proc/PID/status");
  bench->add_flag("--json", args.json, "Print one JSON document instead of the table");
  bench->add_flag("--quiet", args.quiet, "No progress line on stderr");
  on_parsed(bench, [&args] { return errand::bench::run_bench(args); });
}

}  // namespace

int main(int argc, char** argv) {
  errand::log::configure(errand::log::Format::kText, errand::log::Level::kInfo,
                         errand::log::Writer::kCaller);
  CLI::App app{"errand: a durable job server with a synchronous front on asynchronous work"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "errand 0.1.0");

  errand::server::ServeOptions options;
  std::string durability = "fsync";
  std::string log_format = "text";
  std::string log_level = "info";
  std::string config;
  std::int64_t max_wait_ms = 60'000;
  std::int64_t no_worker_after_ms = 30'000;
  std::int64_t store_timeout_ms = 15'000;
  std::int64_t shutdown_timeout_ms = 10'000;
  std::int64_t max_memory_mb = 0;
  CLI::App* serve = app.add_subcommand("serve", "Run the job server");
  serve->footer("Example: errand serve --listen 127.0.0.1:7400 --data-dir ./errand-data");
  // The last --listen wins, so a wrapper (or a test harness) can append one.
  serve
      ->add_option("--listen", options.listen, "Address to listen on (HOST:PORT; port 0 picks one)")
      ->envname("ERRAND_LISTEN")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->capture_default_str();
  serve
      ->add_option("--store", options.store,
                   "embedded (RocksDB in --data-dir) or a PostgreSQL URL, "
                   "postgresql://USER@HOST/DB, that several errand servers may share")
      ->envname("ERRAND_STORE")
      ->capture_default_str();
  serve
      ->add_option("--store-pool-size", options.store_pool_size,
                   "PostgreSQL: connections (and threads) that run transactions")
      ->envname("ERRAND_STORE_POOL_SIZE")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  serve->add_option("--data-dir", options.data_dir, "Directory of the embedded store")
      ->envname("ERRAND_DATA_DIR")
      ->capture_default_str();
  serve
      ->add_option("--durability", durability,
                   "fsync: a 2xx means fsync'd (default); os: written, not fsync'd (a machine "
                   "crash may lose it); memory: no write-ahead log (a crash loses it)")
      ->envname("ERRAND_DURABILITY")
      ->check(CLI::IsMember({"fsync", "os", "memory"}))
      ->capture_default_str();
  serve->add_option("--config", config, "TOML file with defaults for these options")
      ->envname("ERRAND_CONFIG")
      ->check(CLI::ExistingFile);
  serve->add_option("--max-wait-ms", max_wait_ms, "Cap on Prefer: wait, in milliseconds")
      ->envname("ERRAND_MAX_WAIT_MS")
      ->check(CLI::Range(0, 3'600'000))
      ->capture_default_str();
  serve
      ->add_option("--store-timeout-ms", store_timeout_ms,
                   "PostgreSQL: how long a statement may go unanswered before its connection is "
                   "given up and the request gets 503 (a frozen PostgreSQL), in milliseconds; "
                   "0: no limit")
      ->envname("ERRAND_STORE_TIMEOUT_MS")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{3'600'000}))
      ->capture_default_str();
  serve
      ->add_option("--no-worker-after-ms", no_worker_after_ms,
                   "A queued job's waiting_on says no_workers once no worker asked its queue "
                   "for jobs for this long, in milliseconds")
      ->envname("ERRAND_NO_WORKER_AFTER_MS")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{7} * 24 * 3600 * 1000))
      ->capture_default_str();
  serve
      ->add_option("--shutdown-timeout-ms", shutdown_timeout_ms,
                   "On SIGTERM/SIGINT, wait this long at most for busy connections (a request, a "
                   "stream) before closing them and exiting, in milliseconds; a second signal "
                   "closes them at once")
      ->envname("ERRAND_SHUTDOWN_TIMEOUT_MS")
      ->check(CLI::Range(std::int64_t{0}, kMaxShutdownTimeoutMs))
      ->capture_default_str();
  serve->add_option("--max-connections", options.max_connections, "Open connections at most")
      ->envname("ERRAND_MAX_CONNECTIONS")
      ->capture_default_str();
  HttpTimeoutsMs http_timeouts_ms;
  add_tls_and_timeout_options(serve, options, http_timeouts_ms);
  serve
      ->add_option("--cors-origin", options.cors_origins,
                   "Let pages from this origin call the API from a browser (repeatable; * = any)")
      ->envname("ERRAND_CORS_ORIGINS")
      ->delimiter(',');
  serve
      ->add_option("--log-format", log_format,
                   "text (one line per event, key=value fields) or json (one object per line)")
      ->envname("ERRAND_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  serve->add_option("--log-level", log_level, "debug (every job state change), info, warn or error")
      ->envname("ERRAND_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  serve
      ->add_flag("--insecure", options.insecure,
                 "Serve a non-loopback address without any token (anyone who can connect can "
                 "do anything; docs/security.md)")
      ->envname("ERRAND_INSECURE");
  serve->add_option("--threads", options.threads, "I/O threads (0: one per core)")
      ->envname("ERRAND_THREADS")
      ->capture_default_str();
  serve
      ->add_option("--max-memory-mb", max_memory_mb,
                   "Refuse new jobs and flows with 503 while the server's resident memory is "
                   "above this (0: 80% of the cgroup's or the machine's memory)")
      ->envname("ERRAND_MAX_MEMORY_MB")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve
      ->add_option("--otlp-endpoint", options.otlp_endpoint,
                   "Send each job's timeline as OpenTelemetry spans to this OTLP/HTTP endpoint "
                   "(e.g. http://127.0.0.1:4318; spans go to <URL>/v1/traces)")
      ->envname("ERRAND_OTLP_ENDPOINT");

  // The client subcommands; each sets `run` when it is the one parsed.
  std::function<int()> run;
  const auto on_parsed = [&run](CLI::App* cmd, std::function<int()> f) {
    cmd->callback([&run, f = std::move(f)] { run = f; });
  };

  cli::SubmitArgs submit_args;
  CLI::App* submit = app.add_subcommand("submit", "Submit a job and print it as JSON");
  submit->footer(
      "Exit status: 0 succeeded or accepted, 1 failed/cancelled/expired, 2 usage or connection "
      "error.\nExample: errand submit images '{\"url\": \"https://example.com/a.png\"}' --wait 30");
  add_server_options(submit, submit_args.server);
  submit->add_option("QUEUE", submit_args.queue, "Queue to submit to")->required();
  submit->add_option("PAYLOAD", submit_args.payload,
                     "The payload as JSON, or - to read it from stdin (default: {})");
  submit
      ->add_option("--wait", submit_args.wait_seconds,
                   "Wait up to SECS for the job to finish and print it finished")
      ->check(CLI::Range(0.0, 3600.0));
  submit->add_option("--key", submit_args.key, "Idempotency key: submitting it again is a no-op");
  submit->add_option("--priority", submit_args.priority, "Higher runs first (default 0)")
      ->check(CLI::Range(-1'000'000, 1'000'000));
  submit->add_option("--delay", submit_args.delay_ms, "Run no sooner than MS milliseconds from now")
      ->check(CLI::NonNegativeNumber);
  submit
      ->add_option("--max-attempts", submit_args.max_attempts,
                   "Deliveries before it fails for good")
      ->check(CLI::Range(1, 1000));
  submit->add_option("--ttl", submit_args.ttl_ms, "Expire unless started within MS milliseconds")
      ->check(CLI::PositiveNumber);
  submit->add_option("--tag", submit_args.tags, "A tag for the job (repeatable)");
  on_parsed(submit, [&] { return cli::run_submit(submit_args); });

  cli::GetArgs get_args;
  CLI::App* get = app.add_subcommand("get", "Print a job as JSON");
  get->footer(
      "Exit status: 0 found (succeeded or not finished), 1 failed/cancelled/expired or no such "
      "job, 2 usage or connection error.\nExample: errand get 0190a1b2-6c1e-7d3a-9f00-3c5e8a7b1d42 "
      "--wait 30");
  add_server_options(get, get_args.server);
  add_job_id(get, get_args.id);
  get->add_option("--wait", get_args.wait_seconds, "Wait up to SECS for the job to finish")
      ->check(CLI::Range(0.0, 3600.0));
  on_parsed(get, [&] { return cli::run_get(get_args); });

  cli::EventsArgs events_args;
  bool no_follow = false;
  CLI::App* events = app.add_subcommand(
      "events", "Print a job's timeline, one JSON event per line, following it until it ends");
  events->footer(
      "Exit status: 0 done, 1 no such job, 2 usage or connection error.\nExample: errand events "
      "0190a1b2-6c1e-7d3a-9f00-3c5e8a7b1d42 | jq -c '{seq, type}'");
  add_server_options(events, events_args.server);
  add_job_id(events, events_args.id);
  events->add_flag("--no-follow", no_follow, "Print the events so far and exit");
  on_parsed(events, [&] {
    events_args.follow = !no_follow;
    return cli::run_events(events_args);
  });

  cli::JobsArgs jobs_args;
  CLI::App* jobs = app.add_subcommand("jobs", "List jobs, newest first");
  jobs->footer(
      "Exit status: 0 listed, 2 usage or connection error.\nExample: errand jobs --queue images "
      "--state failed --format table");
  add_server_options(jobs, jobs_args.server);
  jobs->add_option("--queue", jobs_args.queue, "Only jobs of this queue");
  jobs->add_option("--state", jobs_args.state, "Only jobs in this state")
      ->check(CLI::IsMember(
          {"scheduled", "queued", "running", "succeeded", "failed", "cancelled", "expired"}));
  jobs->add_option("--limit", jobs_args.limit, "At most N jobs")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  jobs->add_option("--cursor", jobs_args.cursor, "Continue after a previous page (its \"next\")");
  add_format_option(jobs, jobs_args.format);
  on_parsed(jobs, [&] { return cli::run_jobs(jobs_args); });

  cli::QueuesArgs queues_args;
  CLI::App* queues = app.add_subcommand("queues", "List queues with their counts by state");
  queues->footer(
      "Exit status: 0 listed, 2 usage or connection error.\nExample: errand queues --format table");
  add_server_options(queues, queues_args.server);
  add_format_option(queues, queues_args.format);
  on_parsed(queues, [&] { return cli::run_queues(queues_args); });

  cli::JobActionArgs retry_args;
  CLI::App* retry = app.add_subcommand(
      "retry", "Put a failed, cancelled or expired job back in its queue with fresh attempts");
  retry->footer(
      "Exit status: 0 retried, 1 no such job or not retryable (e.g. succeeded), 2 usage or "
      "connection error.\nExample: errand retry 0190a1b2-6c1e-7d3a-9f00-3c5e8a7b1d42");
  add_server_options(retry, retry_args.server);
  add_job_id(retry, retry_args.id);
  on_parsed(retry, [&] { return cli::run_retry(retry_args); });

  cli::JobActionArgs cancel_args;
  CLI::App* cancel = app.add_subcommand(
      "cancel", "Cancel a job (a running one is asked to stop: see cancel_requested)");
  cancel->footer(
      "Exit status: 0 cancelled or cancellation requested, 1 no such job or already finished, 2 "
      "usage or connection error.\nExample: errand cancel 0190a1b2-6c1e-7d3a-9f00-3c5e8a7b1d42");
  add_server_options(cancel, cancel_args.server);
  add_job_id(cancel, cancel_args.id);
  on_parsed(cancel, [&] { return cli::run_cancel(cancel_args); });

  cli::WorkArgs work_args;
  CLI::App* work = app.add_subcommand(
      "work", "Run a command for each job: errand work QUEUE... [OPTIONS] -- CMD [ARGS...]");
  work->footer(
      "The command gets the payload JSON on stdin and ERRAND_JOB_ID, ERRAND_QUEUE, ERRAND_ATTEMPT "
      "in its environment; its stdout is the result; a non-zero exit fails the attempt with the "
      "tail of its stderr; a stderr line `errand:progress PERCENT MESSAGE` reports progress, "
      "`errand:no-retry [TYPE]` makes a failure final. A flow's step also gets ERRAND_FLOW_ID, "
      "ERRAND_FLOW_STEP, ERRAND_FLOW_COMPENSATING and ERRAND_FLOW_INPUTS (docs/cli.md). "
      "SIGTERM drains (a second one stops the running commands).\nExample: errand work images "
      "--concurrency 4 --timeout 120 -- ./resize.sh");
  add_server_options(work, work_args.server);
  work->add_option("QUEUE", work_args.queues, "Queues to take jobs from, first ones first")
      ->required();
  work->add_option("--concurrency", work_args.concurrency, "Commands running at once")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  work->add_option("--timeout", work_args.timeout_seconds,
                   "Stop a command after SECS and fail the attempt (type timeout)")
      ->check(CLI::PositiveNumber);
  work->add_option("--kill-grace", work_args.kill_grace_seconds,
                   "SECS between SIGTERM and SIGKILL when a command is stopped")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  work->add_option("--lease-ms", work_args.lease_ms,
                   "Lease length; heartbeats renew it while a command runs")
      ->check(CLI::Range(std::int64_t{1000}, std::int64_t{86'400'000}))
      ->capture_default_str();
  work->add_option("--name", work_args.name, "Worker name shown on jobs (default HOST/PID)");
  work->add_flag("--quiet", work_args.quiet,
                 "Log no line per job and do not copy the commands' stderr");

  errand::bench::BenchArgs bench_args;
  add_bench_command(app, bench_args, on_parsed);

  std::string migrate_store;
  CLI::App* migrate = app.add_subcommand(
      "migrate", "Bring a PostgreSQL store's schema up to date, then exit (serve does it too)");
  migrate->add_option("--store", migrate_store, "The PostgreSQL URL, as for serve")
      ->envname("ERRAND_STORE")
      ->required();
  on_parsed(migrate, [&] { return errand::server::migrate_store(migrate_store); });

  std::vector<std::string> work_command;
  const int parse_argc = split_work_command(argc, argv, work_command);
  on_parsed(work, [&] {
    work_args.command = work_command;
    return cli::run_work(work_args);
  });

  try {
    app.parse(parse_argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (serve->parsed()) {
    options.max_wait = std::chrono::milliseconds(max_wait_ms);
    options.no_worker_after = std::chrono::milliseconds(no_worker_after_ms);
    options.store_timeout = std::chrono::milliseconds(store_timeout_ms);
    options.drain_grace = std::chrono::milliseconds(shutdown_timeout_ms);
    options.header_timeout = std::chrono::milliseconds(http_timeouts_ms.header);
    options.body_timeout = std::chrono::milliseconds(http_timeouts_ms.body);
    options.write_timeout = std::chrono::milliseconds(http_timeouts_ms.write);
    options.max_memory_bytes = static_cast<std::uint64_t>(max_memory_mb) * 1024 * 1024;
    // Only from the environment: a secret on the command line shows in ps.
    if (const char* admin = std::getenv("ERRAND_ADMIN_TOKEN")) options.admin_token = admin;
    if (!config.empty() &&
        !errand::server::apply_config_file(
            config, [serve](const char* flag) { return serve->get_option(flag)->count() > 0; },
            options, {durability, log_format, log_level})) {
      return 2;
    }
    if (options.tls_cert.empty() != options.tls_key.empty()) {
      std::fprintf(stderr,
                   "errand: HTTPS needs both --tls-cert and --tls-key (ERRAND_TLS_CERT and "
                   "ERRAND_TLS_KEY, or tls_cert and tls_key in the config); only %s is set\n",
                   options.tls_cert.empty() ? "the key" : "the certificate");
      return 2;
    }
    if (!errand::log::parse_format(log_format, options.log_format)) {
      std::fprintf(stderr, "errand: log_format must be text or json\n");
      return 2;
    }
    if (!errand::log::parse_level(log_level, options.log_level)) {
      std::fprintf(stderr, "errand: log_level must be debug, info, warn or error\n");
      return 2;
    }
    static const std::map<std::string, errand::embedded::Durability> kDurability = {
        {"fsync", errand::embedded::Durability::kFsync},
        {"os", errand::embedded::Durability::kOs},
        {"memory", errand::embedded::Durability::kMemory}};
    auto it = kDurability.find(durability);
    if (it == kDurability.end()) {
      std::fprintf(stderr, "errand: durability must be fsync, os or memory\n");
      return 2;
    }
    options.durability = it->second;
    if (!options.otlp_endpoint.empty() &&
        !errand::tracing::otlp_traces_url(options.otlp_endpoint)) {
      std::fprintf(stderr, "errand: otlp_endpoint must be an http:// or https:// URL, not '%s'\n",
                   options.otlp_endpoint.c_str());
      return 2;
    }
    const int code = errand::server::serve(options);
    errand::log::shutdown();  // writes the lines still queued
    return code;
  }
  if (run) return run();
  return 2;
}
