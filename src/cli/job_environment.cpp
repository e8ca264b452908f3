#include "cli/job_environment.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace errand::cli {
namespace {

// Every variable a job may set, also those this job does not: a command that
// runs `errand work` itself must not pass its own job's on to another.
constexpr std::array<std::string_view, 11> kJobVariables = {
    "ERRAND_JOB_ID",       "ERRAND_QUEUE",           "ERRAND_ATTEMPT",
    "ERRAND_MAX_ATTEMPTS", "ERRAND_DEADLINE",        "TRACEPARENT",
    "ERRAND_FLOW_ID",      "ERRAND_FLOW_STEP",       "ERRAND_FLOW_COMPENSATING",
    "ERRAND_FLOW_INPUTS",  "ERRAND_FLOW_INPUTS_FILE"};

bool set_by_job(std::string_view entry) {
  const std::string_view name = entry.substr(0, entry.find('='));
  return std::find(kJobVariables.begin(), kJobVariables.end(), name) != kJobVariables.end();
}

}  // namespace

bool flow_inputs_need_file(const LeasedJob& job) {
  return job.flow && job.flow->inputs_json.size() > kMaxFlowInputsInEnvironment;
}

std::vector<std::string> job_environment(const std::vector<std::string>& base, const LeasedJob& job,
                                         const std::string& inputs_file) {
  std::vector<std::string> env;
  env.reserve(base.size() + kJobVariables.size());
  for (const auto& entry : base) {
    if (!set_by_job(entry)) env.push_back(entry);
  }
  env.push_back("ERRAND_JOB_ID=" + job.id);
  env.push_back("ERRAND_QUEUE=" + job.queue);
  env.push_back("ERRAND_ATTEMPT=" + std::to_string(job.attempt));
  env.push_back("ERRAND_MAX_ATTEMPTS=" + std::to_string(job.max_attempts));
  if (job.deadline) env.push_back("ERRAND_DEADLINE=" + *job.deadline);
  if (job.traceparent) env.push_back("TRACEPARENT=" + *job.traceparent);
  if (job.flow) {
    env.push_back("ERRAND_FLOW_ID=" + job.flow->id);
    env.push_back("ERRAND_FLOW_STEP=" + job.flow->step);
    env.push_back(std::string("ERRAND_FLOW_COMPENSATING=") + (job.flow->compensating ? "1" : "0"));
    if (inputs_file.empty()) {
      env.push_back("ERRAND_FLOW_INPUTS=" + job.flow->inputs_json);
    } else {
      env.push_back("ERRAND_FLOW_INPUTS_FILE=" + inputs_file);
    }
  }
  return env;
}

std::vector<std::string> current_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

}  // namespace errand::cli
