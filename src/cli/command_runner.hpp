// Runs one command for `errand work`: spawns it in its own process group with
// the given stdin, environment and arguments, collects its stdout (bounded)
// and the tail of its stderr, picks out `errand:progress` and
// `errand:no-retry` lines, and stops it
// (SIGTERM to the group, SIGKILL after a grace period) on a timeout, when its
// stdout grows too large, or when the caller asks. The child is always
// reaped before run_command returns.
//
// run_command blocks its calling thread; calls on different threads are
// independent (each owns its pipes and child), so one worker thread per job
// may run them concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/progress_line.hpp"

namespace errand::cli {

inline constexpr std::size_t kDefaultMaxStdout = 1 << 20;  // the server's result limit
inline constexpr std::size_t kDefaultStderrTail = 4 << 10;

struct CommandSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH unless it has a '/'
  std::vector<std::string> env;   // the complete environment, "NAME=value"
  std::string stdin_data;         // written to the command's stdin, which is then closed
};

struct RunLimits {
  std::optional<std::chrono::milliseconds> timeout;  // unset: no limit
  std::chrono::milliseconds kill_grace{5000};        // from SIGTERM to SIGKILL
  std::size_t max_stdout = kDefaultMaxStdout;
  std::size_t stderr_tail = kDefaultStderrTail;
  std::chrono::milliseconds tick{100};  // how often on_tick is asked
};

// Why run_command signalled the command.
enum class StopReason {
  kNone,
  kTimeout,      // it ran longer than RunLimits::timeout
  kStdoutLimit,  // it wrote more than RunLimits::max_stdout to stdout
  kCancelled,    // the job was cancelled
  kLeaseLost,    // the worker no longer holds the job
  kShutdown,     // the worker is shutting down without waiting for it
};

struct RunHooks {
  // A valid progress line on stderr (these are not kept in the tail).
  std::function<void(const ProgressLine&)> on_progress;
  // Any other stderr line, e.g. to copy it to the worker's log.
  std::function<void(std::string_view line)> on_stderr_line;
  // Asked about every RunLimits::tick while the command runs; a reason other
  // than kNone stops it.
  std::function<StopReason()> on_tick;
};

struct RunOutcome {
  std::optional<std::string> spawn_error;  // set when the command could not be started
  bool exited = false;                     // ended by exit(): see exit_status
  int exit_status = 0;
  int term_signal = 0;  // when killed by a signal
  StopReason stopped = StopReason::kNone;
  std::string stdout_data;       // at most max_stdout bytes
  std::string stderr_tail;       // the last stderr_tail bytes without protocol lines, valid UTF-8
  std::string last_stderr_line;  // the last non-empty one of them
  // Set by an `errand:no-retry [TYPE]` line: the TYPE, empty when none given.
  std::optional<std::string> no_retry;
  std::chrono::milliseconds elapsed{0};

  // Exited with status 0 and was not stopped.
  [[nodiscard]] bool succeeded() const {
    return !spawn_error && exited && exit_status == 0 && stopped == StopReason::kNone;
  }
};

// REQUIRES: spec.argv is not empty.
RunOutcome run_command(const CommandSpec& spec, const RunLimits& limits, const RunHooks& hooks);

// Whether `program` names something executable: a path with a '/' that is an
// executable file, or a name found so in $PATH. For failing fast at startup.
bool is_runnable(std::string_view program);

}  // namespace errand::cli
