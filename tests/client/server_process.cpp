#include "server_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace errand::client_testing {
namespace {

constexpr std::chrono::seconds kStartTimeout{20};  // sanitizer builds open RocksDB slowly

std::string errand_binary() {
  if (const char* bin = std::getenv("ERRAND_BIN"); bin && *bin) return bin;
  return ERRAND_BIN_DEFAULT;
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/errand-client-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp: " + std::string(strerror(errno)));
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ServerProcess::ServerProcess() { spawn(0); }

ServerProcess::ServerProcess(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {
  spawn(0);
}

ServerProcess::~ServerProcess() { kill(); }

std::string ServerProcess::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void ServerProcess::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

void ServerProcess::restart() {
  kill();
  spawn(port_);
}

std::string ServerProcess::log() const {
  std::ifstream in(dir_.path() + "/server.log");
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void ServerProcess::spawn(int port) {
  const std::string data_dir = dir_.path() + "/data";
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  const std::string bin = errand_binary();
  std::vector<std::string> args = {bin, "serve", "--listen", listen, "--data-dir", data_dir};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Hermetic: none of the caller's ERRAND_* settings reach the server.
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "ERRAND_", 7) != 0) envp.push_back(*e);
  }
  envp.push_back(nullptr);

  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  posix_spawn_file_actions_addclose(&actions, out[1]);
  const std::string log_path = dir_.path() + "/server.log";
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    throw std::runtime_error("cannot start " + bin + ": " + strerror(rc));
  }
  pid_ = pid;
  stdout_fd_ = out[0];

  // The one line it prints on stdout once it accepts connections.
  const std::string prefix = "errand listening on 127.0.0.1:";
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  for (;;) {
    const auto nl = text.find('\n');
    if (nl != std::string::npos) {
      const std::string line = text.substr(0, nl);
      if (line.rfind(prefix, 0) == 0) {
        port_ = std::stoi(line.substr(prefix.size()));
        return;
      }
      text.erase(0, nl + 1);
      continue;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{stdout_fd_, POLLIN, 0};
    const int ready = left.count() > 0 ? poll(&p, 1, static_cast<int>(left.count())) : 0;
    char buf[256];
    const ssize_t n = ready > 0 ? read(stdout_fd_, buf, sizeof buf) : 0;
    if (n <= 0) {
      if (ready < 0 && errno == EINTR) continue;
      kill();
      throw std::runtime_error("errand serve (" + listen + ") did not start:\n" + log());
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
}

int unused_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot find a free port: " + std::string(strerror(errno)));
  }
  const int port = ntohs(addr.sin_port);
  close(fd);  // never listened: connecting to it is refused
  return port;
}

}  // namespace errand::client_testing
