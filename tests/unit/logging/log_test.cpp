#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "logging/job_log.hpp"
#include "logging/log.hpp"

namespace errand::log {
namespace {

TEST(LogRender, TextIsTheMessageThenLogfmtFields) {
  const Field fields[] = {{"job", "0192f5c4"}, {"queue", "orders"}, {"attempt", 3},
                          {"ok", true},        {"ratio", 0.25},     {"note", "two words"},
                          {"empty", ""},       {"quote", "a\"b=c"}};
  EXPECT_EQ(render(Format::kText, "job failed", fields),
            "job failed job=0192f5c4 queue=orders attempt=3 ok=true ratio=0.25 "
            "note=\"two words\" empty=\"\" quote=\"a\\\"b=c\"");
}

TEST(LogRender, TextStaysOneLine) {
  const Field fields[] = {{"reason", "line one\nline two"}};
  const std::string line = render(Format::kText, "bad\nthing", fields);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_EQ(line, "bad thing reason=\"line one\\nline two\"");
}

TEST(LogRender, JsonIsValidWithTypedValues) {
  const Field fields[] = {{"job", "x\"y"}, {"attempt", 2}, {"ok", false}, {"ctl", "\x01"}};
  const std::string body = render(Format::kJson, "msg \"quoted\"", fields);
  const auto v = boost::json::parse("{" + body + "}").as_object();
  EXPECT_EQ(v.at("msg").as_string(), "msg \"quoted\"");
  EXPECT_EQ(v.at("job").as_string(), "x\"y");
  EXPECT_EQ(v.at("attempt").as_int64(), 2);
  EXPECT_EQ(v.at("ok").as_bool(), false);
  EXPECT_EQ(v.at("ctl").as_string(), "\x01");
}

TEST(LogRender, ParsesFormatsAndLevels) {
  Format f{};
  EXPECT_TRUE(parse_format("json", f));
  EXPECT_EQ(f, Format::kJson);
  EXPECT_FALSE(parse_format("JSON", f));
  Level l{};
  EXPECT_TRUE(parse_level("warn", l));
  EXPECT_EQ(l, Level::kWarn);
  EXPECT_FALSE(parse_level("verbose", l));
}

StateChange change(std::optional<JobState> from, std::optional<JobState> to,
                   std::string error_type = "") {
  StateChange c;
  c.queue = "orders";
  c.from = from;
  c.to = to;
  c.error_type = std::move(error_type);
  return c;
}

TEST(JobLine, FailuresAreLoudAndTheNormalPathIsDebug) {
  using S = JobState;
  EXPECT_EQ(job_line(change({}, S::kQueued)).level, Level::kDebug);
  EXPECT_EQ(job_line(change(S::kQueued, S::kRunning)).level, Level::kDebug);
  EXPECT_EQ(job_line(change(S::kRunning, S::kSucceeded)).level, Level::kDebug);
  EXPECT_EQ(job_line(change(S::kScheduled, S::kQueued)).level, Level::kDebug);
  EXPECT_EQ(job_line(change(S::kSucceeded, {})).level, Level::kDebug);

  const JobLine retry = job_line(change(S::kRunning, S::kScheduled, "timeout"));
  EXPECT_EQ(retry.level, Level::kWarn);
  EXPECT_EQ(retry.message, "job attempt failed, will retry");
  EXPECT_EQ(job_line(change(S::kRunning, S::kQueued, "lease_expired")).message,
            "job lease expired, will retry");
  EXPECT_EQ(job_line(change(S::kRunning, S::kFailed, "boom")).level, Level::kError);
  EXPECT_EQ(job_line(change(S::kQueued, S::kExpired)).level, Level::kWarn);
  EXPECT_EQ(job_line(change(S::kQueued, S::kCancelled)).level, Level::kInfo);
  const JobLine retried = job_line(change(S::kFailed, S::kQueued, "boom"));
  EXPECT_EQ(retried.level, Level::kInfo);
  EXPECT_EQ(retried.message, "job retried");
}

}  // namespace
}  // namespace errand::log
