// The command runner on real processes (/bin/sh scripts). Timeouts and
// grace periods are short, and every wait is bounded by the runner itself.
#include "cli/command_runner.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <fstream>
#include <thread>

#include "cli/job_environment.hpp"

namespace errand::cli {
namespace {

using std::chrono::milliseconds;

CommandSpec shell(const std::string& script, std::string stdin_data = {}) {
  CommandSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = current_environment();
  spec.stdin_data = std::move(stdin_data);
  return spec;
}

RunOutcome run(const CommandSpec& spec, RunLimits limits = {}, RunHooks hooks = {}) {
  return run_command(spec, limits, hooks);
}

// The runner reaps its child: this process has no child left, zombie or not.
void expect_no_children() {
  errno = 0;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// Gone, or a zombie waiting for init: either way no longer running.
bool process_ended(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close == std::string::npos || line.substr(close + 2, 1) == "Z";
}

TEST(CommandRunner, PassesStdinAndEnvironmentAndCollectsStdout) {
  CommandSpec spec = shell(R"(cat; printf ' %s' "$GREETING")", R"({"n":1})");
  spec.env.push_back("GREETING=hello");
  const RunOutcome o = run(spec);
  EXPECT_TRUE(o.succeeded());
  EXPECT_EQ(o.stdout_data, R"({"n":1} hello)");
  expect_no_children();
}

TEST(CommandRunner, ReportsTheExitStatusAndTheStderrTail) {
  const RunOutcome o = run(shell("echo one >&2; echo two >&2; echo >&2; exit 3"));
  EXPECT_FALSE(o.succeeded());
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.exit_status, 3);
  EXPECT_EQ(o.stderr_tail, "one\ntwo\n");
  EXPECT_EQ(o.last_stderr_line, "two");
  expect_no_children();
}

TEST(CommandRunner, ProgressLinesGoToTheHookNotTheTail) {
  std::vector<ProgressLine> seen;
  std::vector<std::string> lines;
  RunHooks hooks;
  hooks.on_progress = [&](const ProgressLine& p) { seen.push_back(p); };
  hooks.on_stderr_line = [&](std::string_view l) { lines.emplace_back(l); };
  const RunOutcome o = run(shell("echo 'errand:progress 10 start' >&2; echo log >&2; "
                                 "printf 'errand:progress 100 done' >&2"),
                           {}, hooks);
  EXPECT_TRUE(o.succeeded());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].percent, 10);
  EXPECT_EQ(seen[0].message, "start");
  EXPECT_EQ(seen[1].percent, 100);
  EXPECT_EQ(lines, std::vector<std::string>{"log"});
  EXPECT_EQ(o.stderr_tail, "log");
}

TEST(CommandRunner, ANoRetryLineIsRecordedNotKeptInTheTail) {
  std::vector<std::string> lines;
  RunHooks hooks;
  hooks.on_stderr_line = [&](std::string_view l) { lines.emplace_back(l); };
  RunOutcome o = run(shell("echo 'errand:no-retry declined' >&2; echo 'card declined' >&2; exit 1"),
                     {}, hooks);
  EXPECT_EQ(o.no_retry, "declined");
  EXPECT_EQ(o.stderr_tail, "card declined");
  EXPECT_EQ(o.last_stderr_line, "card declined");
  EXPECT_EQ(lines, std::vector<std::string>{"card declined"});
  // Without one, nothing is recorded; a malformed one is an ordinary line.
  o = run(shell("echo 'errand:no-retry two words' >&2; exit 1"));
  EXPECT_FALSE(o.no_retry);
  EXPECT_EQ(o.last_stderr_line, "errand:no-retry two words");
}

TEST(CommandRunner, ReportsDeathBySignal) {
  const RunOutcome o = run(shell("kill -SEGV $$"));
  EXPECT_FALSE(o.exited);
  EXPECT_EQ(o.term_signal, SIGSEGV);
  EXPECT_EQ(o.stopped, StopReason::kNone);
}

TEST(CommandRunner, TimeoutSendsSigtermToTheWholeGroup) {
  RunLimits limits;
  limits.timeout = milliseconds(300);
  const RunOutcome o =
      run(shell("trap 'echo got TERM >&2; exit 0' TERM; echo $$; sleep 30 & wait"), limits);
  EXPECT_EQ(o.stopped, StopReason::kTimeout);
  EXPECT_FALSE(o.succeeded());
  EXPECT_EQ(o.stderr_tail, "got TERM");
  EXPECT_LT(o.elapsed, milliseconds(4000));
  expect_no_children();
}

TEST(CommandRunner, EscalatesToSigkillAfterTheGrace) {
  RunLimits limits;
  limits.timeout = milliseconds(200);
  limits.kill_grace = milliseconds(300);
  const RunOutcome o = run(shell("trap '' TERM; sleep 30"), limits);
  EXPECT_EQ(o.stopped, StopReason::kTimeout);
  EXPECT_EQ(o.term_signal, SIGKILL);
  EXPECT_GE(o.elapsed, milliseconds(500));
  EXPECT_LT(o.elapsed, milliseconds(4000));
  expect_no_children();
}

TEST(CommandRunner, KillsWhatTheCommandStartedWhenItStopsIt) {
  RunLimits limits;
  limits.timeout = milliseconds(200);
  limits.kill_grace = milliseconds(200);
  // The background sleep ignores SIGTERM; only the final SIGKILL of the group ends it.
  const RunOutcome o = run(shell("trap '' TERM; sleep 30 & echo $!; exit 0"), limits);
  // The shell exited at once: nothing was stopped, and the sleep is left alone.
  EXPECT_TRUE(o.succeeded());
  const pid_t orphan = std::stoi(o.stdout_data);
  EXPECT_FALSE(process_ended(orphan));
  ::kill(orphan, SIGKILL);

  const RunOutcome stopped = run(shell("trap '' TERM; sleep 30 & echo $!; wait"), limits);
  EXPECT_EQ(stopped.stopped, StopReason::kTimeout);
  const pid_t child = std::stoi(stopped.stdout_data);
  for (int i = 0; i < 200 && !process_ended(child); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(process_ended(child));
}

TEST(CommandRunner, TickHookCanStopTheCommand) {
  RunLimits limits;
  limits.tick = milliseconds(20);
  int ticks = 0;
  RunHooks hooks;
  hooks.on_tick = [&] { return ++ticks >= 3 ? StopReason::kCancelled : StopReason::kNone; };
  const RunOutcome o = run(shell("sleep 30"), limits, hooks);
  EXPECT_EQ(o.stopped, StopReason::kCancelled);
  EXPECT_EQ(o.term_signal, SIGTERM);
  EXPECT_EQ(ticks, 3);
  EXPECT_LT(o.elapsed, milliseconds(4000));
}

TEST(CommandRunner, StopsACommandThatWritesTooMuch) {
  RunLimits limits;
  limits.max_stdout = 1000;
  const RunOutcome o = run(shell("yes"), limits);
  EXPECT_EQ(o.stopped, StopReason::kStdoutLimit);
  EXPECT_EQ(o.stdout_data.size(), 1000u);
  expect_no_children();
}

TEST(CommandRunner, AFloodOfStderrDoesNotDelayTheTimeout) {
  RunLimits limits;
  limits.timeout = milliseconds(300);
  const RunOutcome o = run(shell("yes 'a line of noise' >&2"), limits);
  EXPECT_EQ(o.stopped, StopReason::kTimeout);
  EXPECT_LT(o.elapsed, milliseconds(4000));
  EXPECT_LE(o.stderr_tail.size(), kDefaultStderrTail);
  EXPECT_EQ(o.last_stderr_line, "a line of noise");
}

TEST(CommandRunner, ReportsACommandThatCannotStart) {
  CommandSpec spec;
  spec.argv = {"/nonexistent/errand-test-command"};
  const RunOutcome o = run(spec);
  ASSERT_TRUE(o.spawn_error);
  EXPECT_EQ(*o.spawn_error,
            "cannot run /nonexistent/errand-test-command: No such file or directory");
  EXPECT_FALSE(o.succeeded());
}

TEST(CommandRunner, DoesNotWaitForABackgroundProcessHoldingItsPipes) {
  const RunOutcome o = run(shell("sleep 3 & echo done"));
  EXPECT_TRUE(o.succeeded());
  EXPECT_EQ(o.stdout_data, "done\n");
  EXPECT_LT(o.elapsed, milliseconds(2500));
}

TEST(CommandRunner, ACommandMayIgnoreItsStdin) {
  const RunOutcome o = run(shell("exit 0", std::string(4 << 20, 'x')));
  EXPECT_TRUE(o.succeeded());
}

TEST(CommandRunner, StreamsLargeStdinAndStdoutTogether) {
  std::string big(3 << 20, 'a');
  for (std::size_t i = 0; i < big.size(); i += 97) big[i] = '\n';
  RunLimits limits;
  limits.max_stdout = 4 << 20;
  const RunOutcome o = run(shell("cat", big), limits);
  EXPECT_TRUE(o.succeeded());
  EXPECT_EQ(o.stdout_data, big);
}

TEST(CommandRunner, RunsConcurrentlyOnSeveralThreads) {
  std::vector<RunOutcome> outcomes(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    threads.emplace_back([&, i] { outcomes[i] = run(shell("cat; sleep 0.2", std::to_string(i))); });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    EXPECT_TRUE(outcomes[i].succeeded());
    EXPECT_EQ(outcomes[i].stdout_data, std::to_string(i));
    // Each saw EOF on its own pipes although the others' were open at the same time.
    EXPECT_LT(outcomes[i].elapsed, milliseconds(2000));
  }
  expect_no_children();
}

TEST(CommandRunner, FindsRunnableCommands) {
  EXPECT_TRUE(is_runnable("sh"));
  EXPECT_TRUE(is_runnable("/bin/sh"));
  EXPECT_FALSE(is_runnable("errand-no-such-command-anywhere"));
  EXPECT_FALSE(is_runnable("/etc/passwd"));
  EXPECT_FALSE(is_runnable("/tmp"));
  EXPECT_FALSE(is_runnable(""));
}

}  // namespace
}  // namespace errand::cli
