#include "cli/job_environment.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <system_error>

#include "cli/flow_inputs_file.hpp"

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
  const auto env = job_environment({}, j);
  EXPECT_TRUE(has(env, "TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
  EXPECT_TRUE(has(env, "ERRAND_DEADLINE=2024-07-01T10:00:00.000Z"));
  EXPECT_EQ(std::count_if(env.begin(), env.end(),
                          [](const std::string& e) { return e.starts_with("ERRAND_FLOW"); }),
            0);
}

LeasedJob flow_job(bool compensating, std::string inputs) {
  LeasedJob j = job();
  JobFlow f;
  f.id = "0190a1b2-0000-7000-8000-0000000000f1";
  f.step = "charge";
  f.compensating = compensating;
  f.inputs_json = std::move(inputs);
  j.flow = std::move(f);
  return j;
}

TEST(JobEnvironment, AFlowStepLearnsItsFlowAndInputs) {
  const LeasedJob j = flow_job(false, R"({"reserve":{"hold":"h-1"}})");
  EXPECT_FALSE(flow_inputs_need_file(j));
  const auto env = job_environment({}, j);
  EXPECT_TRUE(has(env, "ERRAND_FLOW_ID=0190a1b2-0000-7000-8000-0000000000f1"));
  EXPECT_TRUE(has(env, "ERRAND_FLOW_STEP=charge"));
  EXPECT_TRUE(has(env, "ERRAND_FLOW_COMPENSATING=0"));
  EXPECT_TRUE(has(env, R"(ERRAND_FLOW_INPUTS={"reserve":{"hold":"h-1"}})"));
}

TEST(JobEnvironment, ACompensationSaysSo) {
  const auto env = job_environment({}, flow_job(true, R"({"charge":{"id":"ch_1"}})"));
  EXPECT_TRUE(has(env, "ERRAND_FLOW_STEP=charge"));
  EXPECT_TRUE(has(env, "ERRAND_FLOW_COMPENSATING=1"));
  EXPECT_TRUE(has(env, R"(ERRAND_FLOW_INPUTS={"charge":{"id":"ch_1"}})"));
}

TEST(JobEnvironment, LongInputsAreNamedByTheirFile) {
  const std::string at_limit = "\"" + std::string(kMaxFlowInputsInEnvironment - 2, 'x') + "\"";
  EXPECT_FALSE(flow_inputs_need_file(flow_job(false, at_limit)));
  const LeasedJob j = flow_job(false, "\"" + at_limit);
  EXPECT_TRUE(flow_inputs_need_file(j));
  const auto env = job_environment({}, j, "/tmp/errand-flow-inputs-abc.json");
  EXPECT_TRUE(has(env, "ERRAND_FLOW_INPUTS_FILE=/tmp/errand-flow-inputs-abc.json"));
  EXPECT_EQ(
      std::count_if(env.begin(), env.end(),
                    [](const std::string& e) { return e.starts_with("ERRAND_FLOW_INPUTS="); }),
      0);
}

TEST(JobEnvironment, InheritedFlowVariablesDoNotReachAJobOutsideAFlow) {
  // As in a command that runs a worker of its own: its job's flow is not the next job's.
  const auto env =
      job_environment({"ERRAND_FLOW_ID=f", "ERRAND_FLOW_STEP=s", "ERRAND_FLOW_COMPENSATING=1",
                       "ERRAND_FLOW_INPUTS={}", "ERRAND_FLOW_INPUTS_FILE=/tmp/x", "PATH=/bin"},
                      job());
  EXPECT_EQ(env.front(), "PATH=/bin");
  EXPECT_EQ(std::count_if(env.begin(), env.end(),
                          [](const std::string& e) { return e.starts_with("ERRAND_FLOW"); }),
            0);
}

TEST(FlowInputsFile, HoldsTheInputsForThisUserOnlyUntilDestroyed) {
  const std::string inputs = R"({"a":)" + std::string(100000, '1') + "}";
  std::string path;
  {
    const FlowInputsFile file(inputs);
    path = file.path();
    EXPECT_TRUE(path.ends_with(".json")) << path;
    std::ifstream in(path);
    const std::string read((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(read, inputs);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

TEST(FlowInputsFile, ThrowsNamingTheFileWhenItCannotBeCreated) {
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  ::setenv("TMPDIR", "/nonexistent-errand-dir", 1);
  try {
    const FlowInputsFile file("{}");
    ADD_FAILURE() << "expected an error, got " << file.path();
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-errand-dir/errand-flow-inputs-"),
              std::string::npos)
        << e.what();
  }
  if (old) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
}

}  // namespace
}  // namespace errand::cli
