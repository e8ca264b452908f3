#include "cli/job_outcome.hpp"

#include <string.h>

#include <cstdio>

#include "cli/json_text.hpp"

namespace errand::cli {
namespace {

std::string trimmed_message(std::string_view line) {
  const auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = line.find_last_not_of(" \t");
  const std::string clean = valid_utf8(line.substr(first, last - first + 1));
  return std::string(utf8_prefix(clean, kMaxErrorMessage));
}

// The tail, then one line saying how the command ended.
std::string detail_with(const RunOutcome& o, const std::string& how) {
  if (o.stderr_tail.empty()) return "(" + how + ")";
  return o.stderr_tail + "\n(" + how + ")";
}

// How the process ended, for the detail.
std::string ending(const RunOutcome& o) {
  if (o.exited) return "exit status " + std::to_string(o.exit_status);
  return "killed by " + signal_name(o.term_signal);
}

// The detail of an attempt the worker stopped: the tail, then when it was
// stopped and how the command took it (did it exit on SIGTERM, or need SIGKILL?).
std::string stopped_detail(const RunOutcome& o) {
  return detail_with(o, "stopped after " + format_duration(o.elapsed) + "; " + ending(o));
}

FailRequest make(std::string message, std::string type, std::string detail, bool retry = true) {
  FailRequest f;
  f.message = std::move(message);
  f.type = std::move(type);
  f.detail = std::move(detail);
  f.retry = retry;
  return f;
}

}  // namespace

std::string result_from_stdout(std::string_view out) {
  if (out.empty() || out == "\n") return "null";
  if (!json_error(out)) return std::string(trim_json_whitespace(out));
  if (out.back() == '\n') out.remove_suffix(1);
  return quote_json(out);
}

std::string signal_name(int sig) {
  if (const char* abbrev = ::sigabbrev_np(sig)) return std::string("SIG") + abbrev;
  return "signal " + std::to_string(sig);
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms < 1000) return std::to_string(ms) + " ms";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string format_bytes(std::size_t bytes) {
  if (bytes >= (1 << 20) && bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1 << 10) && bytes % (1 << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

FailRequest failure_from_outcome(const RunOutcome& o, const FailureContext& context) {
  if (o.spawn_error) return make(*o.spawn_error, "spawn", {});
  switch (o.stopped) {
    case StopReason::kTimeout: {
      const std::string limit =
          context.timeout ? " of " + format_duration(*context.timeout) : std::string();
      return make("the command ran longer than its timeout" + limit, "timeout", stopped_detail(o));
    }
    case StopReason::kStdoutLimit:
      // The same input would produce the same output: retrying cannot help.
      return make("the command wrote more than " + format_bytes(context.max_stdout) +
                      " to stdout, the limit of a result",
                  "result_too_large", stopped_detail(o), /*retry=*/false);
    case StopReason::kCancelled:
      return make("the job was cancelled while its command ran", "cancelled", stopped_detail(o),
                  /*retry=*/false);
    case StopReason::kLeaseLost:
      return make("the worker lost the job's lease while its command ran", "lease_lost",
                  stopped_detail(o));
    case StopReason::kShutdown: {
      // Not the job's fault: let another worker take it at once.
      FailRequest f = make("the worker shut down before the command finished", "interrupted",
                           stopped_detail(o));
      f.retry_in_ms = 0;
      return f;
    }
    case StopReason::kNone:
      break;
  }
  const std::string last = trimmed_message(o.last_stderr_line);
  FailRequest f;
  if (o.exited) {
    const std::string how = "exit status " + std::to_string(o.exit_status);
    f = make(last.empty() ? "the command failed with " + how : last, "exit", detail_with(o, how));
  } else {
    const std::string how = "killed by " + signal_name(o.term_signal);
    f = make(last.empty() ? "the command was " + how : last, "signal", detail_with(o, how));
  }
  // The command said its failure is an answer (a declined card), not an accident.
  if (o.no_retry) {
    f.retry = false;
    if (!o.no_retry->empty()) f.type = *o.no_retry;
  }
  return f;
}

}  // namespace errand::cli
