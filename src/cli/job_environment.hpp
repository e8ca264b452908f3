// The environment `errand work` gives a job's command: its own, plus the
// job's identity (docs/cli.md, "The command's contract"). Pure.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "errand/types.hpp"

namespace errand::cli {

// A flow step's inputs longer than this go to a file (ERRAND_FLOW_INPUTS_FILE)
// instead of the environment: Linux refuses to exec with a variable over
// 128 KiB, and the whole environment counts against one limit with the
// arguments.
inline constexpr std::size_t kMaxFlowInputsInEnvironment = 64 << 10;

// Whether the job is a flow step (or compensation) whose inputs are too long
// for the environment.
bool flow_inputs_need_file(const LeasedJob& job);

// `base` ("NAME=value" entries) without any variable the job sets, then
// ERRAND_JOB_ID, ERRAND_QUEUE, ERRAND_ATTEMPT, ERRAND_MAX_ATTEMPTS, and, when
// the job has them, TRACEPARENT (W3C Trace Context, the name OpenTelemetry
// reads) and ERRAND_DEADLINE. For a job of a flow: ERRAND_FLOW_ID,
// ERRAND_FLOW_STEP, ERRAND_FLOW_COMPENSATING (1 or 0) and the inputs, as
// ERRAND_FLOW_INPUTS, or as ERRAND_FLOW_INPUTS_FILE=`inputs_file` when that
// is not empty (REQUIRES: it is not empty when flow_inputs_need_file(job)).
std::vector<std::string> job_environment(const std::vector<std::string>& base, const LeasedJob& job,
                                         const std::string& inputs_file = {});

// This process's environment as "NAME=value" entries.
std::vector<std::string> current_environment();

}  // namespace errand::cli
