#include "cli/job_environment.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace errand::cli {
namespace {

LeasedJob job() {
  LeasedJob j;
  j.id = "0190a1b2-0000-7000-8000-000000000001";
  j.queue = "images";
  j.attempt = 2;
  j.max_attempts = 5;
  return j;
}

bool has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

TEST(JobEnvironment, AddsTheJobsIdentity) {
  const auto env = job_environment({"PATH=/usr/bin", "HOME=/root"}, job());
  EXPECT_TRUE(has(env, "PATH=/usr/bin"));
  EXPECT_TRUE(has(env, "HOME=/root"));
  EXPECT_TRUE(has(env, "ERRAND_JOB_ID=0190a1b2-0000-7000-8000-000000000001"));
  EXPECT_TRUE(has(env, "ERRAND_QUEUE=images"));
  EXPECT_TRUE(has(env, "ERRAND_ATTEMPT=2"));
  EXPECT_TRUE(has(env, "ERRAND_MAX_ATTEMPTS=5"));
  EXPECT_EQ(std::count_if(env.begin(), env.end(),
                          [](const std::string& e) { return e.starts_with("TRACEPARENT="); }),
            0);
}

TEST(JobEnvironment, ReplacesInheritedJobVariables) {
  const auto env =
      job_environment({"ERRAND_JOB_ID=stale", "ERRAND_ATTEMPT=9", "ERRAND_URL=u"}, job());
  EXPECT_FALSE(has(env, "ERRAND_JOB_ID=stale"));
  EXPECT_FALSE(has(env, "ERRAND_ATTEMPT=9"));
  EXPECT_TRUE(has(env, "ERRAND_URL=u"));
  EXPECT_TRUE(has(env, "ERRAND_ATTEMPT=2"));
}

TEST(JobEnvironment, OptionalMembersWhenPresent) {
  LeasedJob j = job();
  j.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  j.deadline = "2024-07-01T10:00:00.000Z";
  j.flow = R"({"id":"f","step":"charge","inputs":{}})";
  const auto env = job_environment({}, j);
  EXPECT_TRUE(has(env, "TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
  EXPECT_TRUE(has(env, "ERRAND_DEADLINE=2024-07-01T10:00:00.000Z"));
  EXPECT_TRUE(has(env, R"(ERRAND_FLOW={"id":"f","step":"charge","inputs":{}})"));
}

}  // namespace
}  // namespace errand::cli
