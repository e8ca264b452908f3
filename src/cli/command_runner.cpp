#include "cli/command_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <system_error>
#include <utility>

#include "cli/tail_buffer.hpp"

namespace errand::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kReadChunk = 64 << 10;
constexpr std::size_t kReadBudget = 1 << 20;
constexpr std::size_t kWriteChunk = 64 << 10;
constexpr std::size_t kMaxLine = 4 << 10;
// Without a pidfd, how often to look for the exit of a command that closed
// its stdout and stderr but runs on.
constexpr milliseconds kExitPollInterval{10};

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool open() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

// O_CLOEXEC: a command spawned concurrently by another worker thread must
// not inherit this job's pipe ends, or this job would never see EOF.
bool make_pipe(Pipe& p) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  p.read = Fd(fds[0]);
  p.write = Fd(fds[1]);
  return true;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// A pollable handle on the child's exit (Linux 5.3+); -1 where unsupported,
// and the loop falls back to polling waitpid.
Fd open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) return Fd(static_cast<int>(fd));
#else
  (void)pid;
#endif
  return Fd();
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Starts the command in a new process group with stdin, stdout and stderr
// on the given pipe ends. Returns the pid, or -errno.
pid_t spawn(const CommandSpec& spec, int in, int out, int err) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
  // The worker's own descriptors (server connections, log files) are none of
  // the command's business, and a leaked one could outlive the worker.
  ::posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  // Its own group, so that a timeout or a cancel signals everything it
  // started, and a Ctrl-C meant for the worker does not reach it directly.
  short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  ::posix_spawnattr_setflags(&attr, flags);
  ::posix_spawnattr_setpgroup(&attr, 0);
  // Dispositions the worker was started with ignored (nohup, a background
  // job of a shell) survive exec: give the command the defaults it expects.
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&defaults, sig);
  ::posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t empty;
  sigemptyset(&empty);
  ::posix_spawnattr_setsigmask(&attr, &empty);

  auto argv = c_strings(spec.argv);
  auto envp = c_strings(spec.env);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  ::posix_spawnattr_destroy(&attr);
  ::posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -rc;
}

// Writes what the pipe takes of the rest of `data`. Returns false once there
// is nothing more to write: all of it is written, or the command closed its
// stdin (EPIPE), which is its right. SIGPIPE is blocked in this thread for
// the write and a SIGPIPE it raised is consumed, so that the runner works
// without the process ignoring SIGPIPE for everyone.
bool write_stdin(const Fd& fd, const std::string& data, std::size_t& written) {
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  sigset_t old_mask;
  ::pthread_sigmask(SIG_BLOCK, &pipe_signal, &old_mask);
  sigset_t pending;
  ::sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;

  bool more = false;
  int error = 0;
  while (written < data.size()) {
    const std::size_t len = std::min(kWriteChunk, data.size() - written);
    const ssize_t n = ::write(fd.get(), data.data() + written, len);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    error = n < 0 ? errno : 0;
    if (error == EINTR) continue;
    more = error == EAGAIN || error == EWOULDBLOCK;
    break;
  }
  if (error == EPIPE && !was_pending) {
    const timespec no_wait{};
    while (::sigtimedwait(&pipe_signal, nullptr, &no_wait) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return more;
}

std::string describe_spawn_error(const std::string& program, int error) {
  return "cannot run " + program + ": " + std::generic_category().message(error);
}

// State of one run, driven by run_command's poll loop.
class Supervisor {
 public:
  Supervisor(const RunLimits& limits, const RunHooks& hooks, RunOutcome& outcome)
      : limits_(limits),
        hooks_(hooks),
        outcome_(outcome),
        tail_(limits.stderr_tail),
        lines_(kMaxLine),
        buffer_(kReadChunk) {}

  // Reads what `fd` has; closes it at EOF or on error. Returns false once closed.
  bool read_stdout(Fd& fd) {
    return read_from(fd, [this](std::string_view b) { on_stdout(b); });
  }
  bool read_stderr(Fd& fd) {
    return read_from(fd, [this](std::string_view b) { on_stderr(b); });
  }

  void finish_stderr() {
    lines_.finish([this](std::string_view line) { on_line(line); });
    std::string text = tail_.text();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    outcome_.stderr_tail = std::move(text);
  }

  // Asks to stop the command for `reason` unless it is being stopped already.
  void stop(StopReason reason) {
    if (outcome_.stopped != StopReason::kNone || reason == StopReason::kNone) return;
    outcome_.stopped = reason;
    stop_requested_ = true;
  }
  [[nodiscard]] bool take_stop_request() { return std::exchange(stop_requested_, false); }

 private:
  // At most kReadBudget bytes per call, so that a command writing without
  // pause cannot keep the loop from its timers, nor (once it exited) a
  // background process it left holding the pipe.
  template <typename OnBytes>
  bool read_from(Fd& fd, OnBytes on_bytes) {
    for (std::size_t total = 0; total < kReadBudget;) {
      const ssize_t n = ::read(fd.get(), buffer_.data(), buffer_.size());
      if (n > 0) {
        on_bytes(std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
        total += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      fd.reset();  // EOF, or an error that more reading will not cure
      return false;
    }
    return true;
  }

  void on_stdout(std::string_view bytes) {
    const std::size_t room = limits_.max_stdout - outcome_.stdout_data.size();
    if (bytes.size() > room) {
      outcome_.stdout_data.append(bytes.substr(0, room));
      // Keep reading (and dropping) so the command never blocks on a full
      // pipe while it is being stopped.
      stop(StopReason::kStdoutLimit);
      return;
    }
    outcome_.stdout_data.append(bytes);
  }

  void on_stderr(std::string_view bytes) {
    lines_.feed(bytes, [this](std::string_view line) { on_line(line); });
  }

  void on_line(std::string_view line) {
    if (auto progress = parse_progress_line(line)) {
      if (hooks_.on_progress) hooks_.on_progress(*progress);
      return;
    }
    if (auto type = parse_no_retry_line(line)) {
      outcome_.no_retry = std::move(type);
      return;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    tail_.append(line);
    tail_.append("\n");
    if (line.find_first_not_of(" \t") != std::string_view::npos) {
      outcome_.last_stderr_line = std::string(line);
    }
    if (hooks_.on_stderr_line) hooks_.on_stderr_line(line);
  }

  const RunLimits& limits_;
  const RunHooks& hooks_;
  RunOutcome& outcome_;
  TailBuffer tail_;
  LineSplitter lines_;
  std::vector<char> buffer_;
  bool stop_requested_ = false;
};

}  // namespace

RunOutcome run_command(const CommandSpec& spec, const RunLimits& limits, const RunHooks& hooks) {
  RunOutcome outcome;
  const auto started = Clock::now();
  Pipe in;
  Pipe out;
  Pipe err;
  if (!make_pipe(in) || !make_pipe(out) || !make_pipe(err)) {
    outcome.spawn_error = describe_spawn_error(spec.argv.front(), errno);
    return outcome;
  }
  const pid_t pid = spawn(spec, in.read.get(), out.write.get(), err.write.get());
  if (pid < 0) {
    outcome.spawn_error = describe_spawn_error(spec.argv.front(), -pid);
    return outcome;
  }
  in.read.reset();
  out.write.reset();
  err.write.reset();
  for (const Fd* fd : {&in.write, &out.read, &err.read}) set_nonblocking(fd->get());
  if (spec.stdin_data.empty()) in.write.reset();
  Fd pidfd = open_pidfd(pid);

  Supervisor supervisor(limits, hooks, outcome);
  std::size_t stdin_written = 0;
  bool reaped = false;
  int status = 0;
  std::optional<Clock::time_point> term_sent;
  bool kill_sent = false;
  auto next_tick = started + limits.tick;
  // time_point::max(): no timeout.
  const auto deadline = limits.timeout ? started + *limits.timeout : Clock::time_point::max();

  // A throwing hook must not leave the command running unsupervised.
  struct ReapGuard {
    pid_t pid;
    const bool& reaped;
    ~ReapGuard() {
      if (reaped) return;
      ::kill(-pid, SIGKILL);
      int ignored = 0;
      while (::waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
      }
    }
  } guard{pid, reaped};

  const auto try_reap = [&] {
    if (reaped) return;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) reaped = true;
  };

  for (;;) {
    try_reap();
    if (reaped) {
      // What the command wrote before it exited is in the pipes now. A
      // background process it left behind may hold them open: do not wait
      // for that one's EOF.
      if (out.read.open()) supervisor.read_stdout(out.read);
      if (err.read.open()) supervisor.read_stderr(err.read);
      break;
    }

    const auto now = Clock::now();
    if (now >= deadline) supervisor.stop(StopReason::kTimeout);
    if (now >= next_tick) {
      if (outcome.stopped == StopReason::kNone && hooks.on_tick) supervisor.stop(hooks.on_tick());
      next_tick = now + limits.tick;
    }
    if (supervisor.take_stop_request()) {
      ::kill(-pid, SIGTERM);
      term_sent = now;
    }
    if (term_sent && !kill_sent && now >= *term_sent + limits.kill_grace) {
      ::kill(-pid, SIGKILL);
      kill_sent = true;
    }

    auto wake = next_tick;
    if (outcome.stopped == StopReason::kNone) wake = std::min(wake, deadline);
    if (term_sent && !kill_sent) wake = std::min(wake, *term_sent + limits.kill_grace);
    if (!pidfd.open()) wake = std::min(wake, now + kExitPollInterval);
    const auto timeout_ms = std::chrono::ceil<milliseconds>(wake - now).count();

    std::array<pollfd, 4> fds{};
    nfds_t count = 0;
    const auto watch = [&](const Fd& fd, short events) -> pollfd* {
      if (!fd.open()) return nullptr;
      fds[count] = pollfd{fd.get(), events, 0};
      return &fds[count++];
    };
    pollfd* p_in = watch(in.write, POLLOUT);
    pollfd* p_out = watch(out.read, POLLIN);
    pollfd* p_err = watch(err.read, POLLIN);
    watch(pidfd, POLLIN);
    const int ready =
        ::poll(fds.data(), count, static_cast<int>(std::clamp<long long>(timeout_ms, 0, 1000)));
    if (ready < 0) continue;  // EINTR: a signal for the worker; just look again

    if (p_in != nullptr && p_in->revents != 0 &&
        !write_stdin(in.write, spec.stdin_data, stdin_written)) {
      in.write.reset();
    }
    if (p_out != nullptr && p_out->revents != 0) supervisor.read_stdout(out.read);
    if (p_err != nullptr && p_err->revents != 0) supervisor.read_stderr(err.read);
  }

  supervisor.finish_stderr();
  if (outcome.stopped != StopReason::kNone) {
    // Whatever it started and left behind in its group goes with it.
    ::kill(-pid, SIGKILL);
  }
  if (WIFEXITED(status)) {
    outcome.exited = true;
    outcome.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome.term_signal = WTERMSIG(status);
  }
  outcome.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  return outcome;
}

bool is_runnable(std::string_view program) {
  const auto executable_file = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
  };
  if (program.empty()) return false;
  if (program.find('/') != std::string_view::npos) return executable_file(std::string(program));
  const char* path_env = std::getenv("PATH");
  const std::string_view path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t begin = 0;
  for (;;) {
    const auto end = std::min(path.find(':', begin), path.size());
    std::string dir(path.substr(begin, end - begin));
    if (dir.empty()) dir = ".";
    if (executable_file(dir + "/" + std::string(program))) return true;
    if (end == path.size()) return false;
    begin = end + 1;
  }
}

}  // namespace errand::cli
