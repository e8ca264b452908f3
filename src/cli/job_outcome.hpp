// What `errand work` reports for an attempt, from how its command ran: the
// result of a success (from stdout) or the error of a failure. Pure.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "cli/command_runner.hpp"
#include "errand/types.hpp"

namespace errand::cli {

// The longest error message sent; the whole tail goes into the detail.
inline constexpr std::size_t kMaxErrorMessage = 512;

// The job's result (JSON text) from the command's stdout: the output itself
// when it is one JSON value, else a JSON string of it with one trailing
// newline removed. Empty output (or a lone newline) is `null`: the command
// had nothing to say, which is not the same as saying "".
std::string result_from_stdout(std::string_view out);

struct FailureContext {
  std::optional<std::chrono::milliseconds> timeout;
  std::size_t max_stdout = kDefaultMaxStdout;
};

// The error of an attempt whose outcome is not a success.
// REQUIRES: !outcome.succeeded().
FailRequest failure_from_outcome(const RunOutcome& outcome, const FailureContext& context);

// "SIGTERM" for 15; "signal 99" for what has no name.
std::string signal_name(int sig);

// "30 s", "1.5 s", "250 ms".
std::string format_duration(std::chrono::milliseconds d);

// "1 MiB", "64 KiB", "1000 bytes".
std::string format_bytes(std::size_t bytes);

}  // namespace errand::cli
