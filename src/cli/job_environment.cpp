#include "cli/job_environment.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace errand::cli {
namespace {

constexpr std::array<std::string_view, 7> kJobVariables = {
    "ERRAND_JOB_ID",   "ERRAND_QUEUE", "ERRAND_ATTEMPT", "ERRAND_MAX_ATTEMPTS",
    "ERRAND_DEADLINE", "ERRAND_FLOW",  "TRACEPARENT"};

bool set_by_job(std::string_view entry) {
  const std::string_view name = entry.substr(0, entry.find('='));
  return std::find(kJobVariables.begin(), kJobVariables.end(), name) != kJobVariables.end();
}

}  // namespace

std::vector<std::string> job_environment(const std::vector<std::string>& base,
                                         const LeasedJob& job) {
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
  if (job.flow) env.push_back("ERRAND_FLOW=" + *job.flow);
  if (job.traceparent) env.push_back("TRACEPARENT=" + *job.traceparent);
  return env;
}

std::vector<std::string> current_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

}  // namespace errand::cli
