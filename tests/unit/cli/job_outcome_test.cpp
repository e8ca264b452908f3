#include "cli/job_outcome.hpp"

#include <gtest/gtest.h>

#include <signal.h>

namespace errand::cli {
namespace {

using std::chrono::milliseconds;

RunOutcome exited(int status, std::string tail = {}, std::string last = {}) {
  RunOutcome o;
  o.exited = true;
  o.exit_status = status;
  o.stderr_tail = std::move(tail);
  o.last_stderr_line = std::move(last);
  return o;
}

TEST(ResultFromStdout, JsonOutputIsTheResult) {
  EXPECT_EQ(result_from_stdout("{\"width\": 640}\n"), "{\"width\": 640}");
  EXPECT_EQ(result_from_stdout("[1,2,3]"), "[1,2,3]");
  EXPECT_EQ(result_from_stdout("42\n"), "42");
  EXPECT_EQ(result_from_stdout("\"quoted\"\n"), "\"quoted\"");
  EXPECT_EQ(result_from_stdout("true"), "true");
}

TEST(ResultFromStdout, OtherOutputIsAStringWithOneTrailingNewlineRemoved) {
  EXPECT_EQ(result_from_stdout("hello world\n"), "\"hello world\"");
  EXPECT_EQ(result_from_stdout("two\nlines\n\n"), "\"two\\nlines\\n\"");
  EXPECT_EQ(result_from_stdout("no newline"), "\"no newline\"");
  EXPECT_EQ(result_from_stdout("{broken"), "\"{broken\"");
}

TEST(ResultFromStdout, NoOutputIsNull) {
  EXPECT_EQ(result_from_stdout(""), "null");
  EXPECT_EQ(result_from_stdout("\n"), "null");
}

TEST(ResultFromStdout, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(result_from_stdout("a\xFF\n"), "\"a\xEF\xBF\xBD\"");
}

TEST(FailureFromOutcome, NonZeroExitUsesTheLastStderrLine) {
  const FailRequest f =
      failure_from_outcome(exited(3, "reading input\nbad size: -1", "bad size: -1"), {});
  EXPECT_EQ(f.type, "exit");
  EXPECT_EQ(f.message, "bad size: -1");
  EXPECT_EQ(f.detail, "reading input\nbad size: -1\n(exit status 3)");
  EXPECT_TRUE(f.retry);
}

TEST(FailureFromOutcome, NonZeroExitWithoutStderrNamesTheStatus) {
  const FailRequest f = failure_from_outcome(exited(7), {});
  EXPECT_EQ(f.message, "the command failed with exit status 7");
  EXPECT_EQ(f.detail, "(exit status 7)");
}

TEST(FailureFromOutcome, LongMessagesAreShortened) {
  const std::string line(2000, 'x');
  EXPECT_EQ(failure_from_outcome(exited(1, line, line), {}).message.size(), kMaxErrorMessage);
}

TEST(FailureFromOutcome, ANoRetryLineMakesTheFailureFinalWithItsType) {
  RunOutcome o = exited(1, "card 4000 declined", "card 4000 declined");
  o.no_retry = "declined";
  FailRequest f = failure_from_outcome(o, {});
  EXPECT_FALSE(f.retry);
  EXPECT_EQ(f.type, "declined");
  EXPECT_EQ(f.message, "card 4000 declined");
  EXPECT_EQ(f.detail, "card 4000 declined\n(exit status 1)");

  o.no_retry = "";  // no type given: the usual one
  f = failure_from_outcome(o, {});
  EXPECT_FALSE(f.retry);
  EXPECT_EQ(f.type, "exit");

  RunOutcome killed;
  killed.term_signal = SIGABRT;
  killed.no_retry = "corrupt";
  f = failure_from_outcome(killed, {});
  EXPECT_FALSE(f.retry);
  EXPECT_EQ(f.type, "corrupt");
}

TEST(FailureFromOutcome, ANoRetryLineDoesNotChangeWhatTheWorkerStopped) {
  RunOutcome o = exited(143);
  o.no_retry = "declined";
  o.stopped = StopReason::kShutdown;
  const FailRequest f = failure_from_outcome(o, {});
  EXPECT_EQ(f.type, "interrupted");
  EXPECT_TRUE(f.retry);
}

TEST(FailureFromOutcome, DeathBySignal) {
  RunOutcome o;
  o.term_signal = SIGSEGV;
  const FailRequest f = failure_from_outcome(o, {});
  EXPECT_EQ(f.type, "signal");
  EXPECT_EQ(f.message, "the command was killed by SIGSEGV");
  EXPECT_TRUE(f.retry);
}

TEST(FailureFromOutcome, TimeoutWinsOverTheExitStatus) {
  RunOutcome o = exited(0, "working");
  o.stopped = StopReason::kTimeout;
  o.elapsed = milliseconds(1500);
  FailureContext c;
  c.timeout = milliseconds(1000);
  const FailRequest f = failure_from_outcome(o, c);
  EXPECT_EQ(f.type, "timeout");
  EXPECT_EQ(f.message, "the command ran longer than its timeout of 1 s");
  EXPECT_EQ(f.detail, "working\n(stopped after 1.5 s; exit status 0)");
  EXPECT_TRUE(f.retry);
}

TEST(FailureFromOutcome, CancelledIsNotRetried) {
  RunOutcome o;
  o.term_signal = SIGTERM;
  o.stopped = StopReason::kCancelled;
  o.elapsed = milliseconds(250);
  const FailRequest f = failure_from_outcome(o, {});
  EXPECT_EQ(f.type, "cancelled");
  EXPECT_EQ(f.detail, "(stopped after 250 ms; killed by SIGTERM)");
  EXPECT_FALSE(f.retry);
}

TEST(FailureFromOutcome, OversizedOutputIsNotRetried) {
  RunOutcome o;
  o.stopped = StopReason::kStdoutLimit;
  o.term_signal = SIGTERM;
  const FailRequest f = failure_from_outcome(o, {});
  EXPECT_EQ(f.type, "result_too_large");
  EXPECT_EQ(f.message, "the command wrote more than 1 MiB to stdout, the limit of a result");
  EXPECT_FALSE(f.retry);
}

TEST(FailureFromOutcome, ShutdownIsRetriedAtOnce) {
  RunOutcome o;
  o.stopped = StopReason::kShutdown;
  const FailRequest f = failure_from_outcome(o, {});
  EXPECT_EQ(f.type, "interrupted");
  EXPECT_TRUE(f.retry);
  EXPECT_EQ(f.retry_in_ms, 0);
}

TEST(FailureFromOutcome, SpawnErrorIsTheMessage) {
  RunOutcome o;
  o.spawn_error = "cannot run ./gone.sh: No such file or directory";
  const FailRequest f = failure_from_outcome(o, {});
  EXPECT_EQ(f.type, "spawn");
  EXPECT_EQ(f.message, *o.spawn_error);
}

TEST(JobOutcomeFormat, SignalNames) {
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(999), "signal 999");
}

TEST(JobOutcomeFormat, DurationsAndSizes) {
  EXPECT_EQ(format_duration(milliseconds(250)), "250 ms");
  EXPECT_EQ(format_duration(milliseconds(30000)), "30 s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1.5 s");
  EXPECT_EQ(format_bytes(1 << 20), "1 MiB");
  EXPECT_EQ(format_bytes(64 << 10), "64 KiB");
  EXPECT_EQ(format_bytes(1000), "1000 bytes");
}

}  // namespace
}  // namespace errand::cli
