// ServerProcess: the real `errand serve` binary as a child process, for tests
// that speak to it through the client library.
//
// It listens on a free loopback port in a fresh temporary data directory
// (both removed or stopped by the destructor); kill() and restart() simulate
// a crash and a recovery on the same port and data. The binary is
// $ERRAND_BIN, else the one this test was built with.
//
// Not thread-safe: one test thread drives it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace errand::client_testing {

// A fresh directory under $TMPDIR, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ServerProcess {
 public:
  // Starts the server; throws std::runtime_error (with its log) when it does
  // not announce its port within a few seconds.
  ServerProcess();
  // With more arguments for `errand serve`, e.g. {"--config", path}.
  explicit ServerProcess(std::vector<std::string> extra_args);
  ~ServerProcess();  // SIGKILL, reaped
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const;

  // SIGKILL and reap: the process dies as in a crash (kill -9).
  void kill();
  // Starts it again on the same port and data directory.
  void restart();

  // The server's stderr so far, for failure messages.
  [[nodiscard]] std::string log() const;

 private:
  void spawn(int port);

  TempDir dir_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
};

// A loopback port on which nothing listens (bound, then released).
int unused_port();

}  // namespace errand::client_testing
