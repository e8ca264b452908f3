// The client subcommands of the errand binary (SPEC §4, docs/cli.md), as
// plain functions over plain option structs: src/server/main.cpp parses the
// command line into these and calls one. Each prints its answer on stdout,
// any error as one sentence on stderr, and returns the process exit code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace errand::cli {

// Exit codes shared by the client subcommands.
inline constexpr int kExitOk = 0;
// The job failed, was cancelled or expired; or the server answered 404 (no
// such job) or 409 (the job's state does not allow it).
inline constexpr int kExitNegative = 1;
// Bad usage, an unreachable server, or any other error.
inline constexpr int kExitError = 2;

inline constexpr const char* kDefaultServer = "http://127.0.0.1:7400";

struct ServerArgs {
  std::string url = kDefaultServer;  // --server, ERRAND_URL
  std::string token;                 // --token, ERRAND_TOKEN; empty: none
  std::string ca_file;               // --ca-file, ERRAND_CA_FILE; empty: the system's CAs
};

enum class Format { kJson, kTable };

struct SubmitArgs {
  ServerArgs server;
  std::string queue;
  std::optional<std::string> payload;  // JSON text, or "-" for stdin; unset: {}
  std::optional<double> wait_seconds;
  std::optional<std::string> key;
  std::optional<int> priority;
  std::optional<std::int64_t> delay_ms;
  std::optional<int> max_attempts;
  std::optional<std::int64_t> ttl_ms;
  std::vector<std::string> tags;
};

struct GetArgs {
  ServerArgs server;
  std::string id;
  std::optional<double> wait_seconds;
};

struct EventsArgs {
  ServerArgs server;
  std::string id;
  bool follow = true;  // false: the timeline so far, then exit
};

struct JobsArgs {
  ServerArgs server;
  std::optional<std::string> queue;
  std::optional<std::string> state;
  int limit = 50;
  std::optional<std::string> cursor;
  Format format = Format::kJson;
};

struct QueuesArgs {
  ServerArgs server;
  Format format = Format::kJson;
};

// retry and cancel.
struct JobActionArgs {
  ServerArgs server;
  std::string id;
};

struct WorkArgs {
  ServerArgs server;
  std::vector<std::string> queues;
  std::vector<std::string> command;  // after `--`
  int concurrency = 1;
  std::optional<double> timeout_seconds;  // per attempt; unset: none
  double kill_grace_seconds = 5;          // SIGTERM to SIGKILL
  std::int64_t lease_ms = 30'000;
  std::string name;    // empty: <hostname>/<pid>
  bool quiet = false;  // no per-job log lines, no copy of the commands' stderr
};

int run_submit(const SubmitArgs& args);
int run_get(const GetArgs& args);
int run_events(const EventsArgs& args);
int run_jobs(const JobsArgs& args);
int run_queues(const QueuesArgs& args);
int run_retry(const JobActionArgs& args);
int run_cancel(const JobActionArgs& args);
// Runs until SIGTERM or SIGINT (drain) and returns 0, or 2 for bad usage.
int run_work(const WorkArgs& args);

}  // namespace errand::cli
