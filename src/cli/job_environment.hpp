// The environment `errand work` gives a job's command: its own, plus the
// job's identity (docs/cli.md, "The command's contract"). Pure.
#pragma once

#include <string>
#include <vector>

#include "errand/types.hpp"

namespace errand::cli {

// `base` ("NAME=value" entries) without any variable the job sets, then
// ERRAND_JOB_ID, ERRAND_QUEUE, ERRAND_ATTEMPT, ERRAND_MAX_ATTEMPTS, and, when
// the job has them, TRACEPARENT (W3C Trace Context, the name OpenTelemetry
// reads), ERRAND_DEADLINE and ERRAND_FLOW (the JSON of a flow step's "flow").
std::vector<std::string> job_environment(const std::vector<std::string>& base,
                                         const LeasedJob& job);

// This process's environment as "NAME=value" entries.
std::vector<std::string> current_environment();

}  // namespace errand::cli
