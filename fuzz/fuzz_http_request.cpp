// HTTP requests end to end: the bytes are what a client sends on one
// connection. They go over a loopback socket to the real http::Server (its
// head scanner, Beast's parser, the framing checks of connection.cpp), and
// what comes out as requests goes to the real api::Api over a real embedded
// store (RocksDB, --durability=memory, in a temp dir). These start with the
// process and are replaced by fresh ones every 4096 inputs, so that what the
// inputs pile up (queues, jobs, streams) does not slow later ones down.
// A socket and not a direct call: connection.cpp reads requests straight off
// its stream, so no parsing function can be called without one.
// The server's io_context runs on the fuzzing thread, between the client's
// reads and writes: no hand-over between threads for each input, which on a
// busy machine costs more than the work (the store keeps its commit thread).
//
// Per input: connect, send every byte, shut down the sending side (the
// server sees the end of the stream, and a waiting handler sees its client
// gone), read until the server closes, or for at most 2 s and 150 ms after
// its last byte (a live event stream after a pipelined request is allowed to
// stay open: then close and move on).
//
// Placeholders let an input name jobs that exist: every 256 inputs the
// harness makes fresh fixtures (fixtures.hpp), and before sending replaces
// 00000000-0000-7000-8000-000000000001 .. 05 with the ids of the queued,
// running, succeeded and failed fixture jobs and of the running flow, and
// 32 zeros with the running job's lease token. Same lengths, so a
// Content-Length stays right.
//
// Invariants: nothing crashes (ASan and UBSan watch the store's thread too),
// no answer is a 500 (bad input must get a 4xx problem), and the server
// still answers GET /healthz after any input that left its connection open.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "api/api.hpp"
#include "api/http/server.hpp"
#include "check.hpp"
#include "fixtures.hpp"
#include "logging/log.hpp"
#include "metrics/server_metrics.hpp"
#include "store/embedded/embedded_broker.hpp"

namespace errand::fuzz {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kRefreshEvery = 256;   // inputs between fresh fixtures
constexpr std::size_t kRestartEvery = 4096;  // inputs between fresh servers and stores
// How long to wait for the server to close: in all, and once everything was
// sent, without a byte from it. A live event stream (after a pipelined
// request: see the top of this file) stops sending after its first events.
constexpr auto kAnswerDeadline = std::chrono::seconds(2);
constexpr auto kQuietDeadline = std::chrono::milliseconds(150);
constexpr auto kHealthDeadline = std::chrono::seconds(10);
constexpr std::size_t kKeepAnswerBytes = 1 << 20;

// A server, its Api and store, in a temp dir of their own.
struct Harness {
  std::filesystem::path dir;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<metrics::ServerMetrics> metrics;
  std::unique_ptr<api::Api> api;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::unique_ptr<http::Server> server;
  std::uint16_t port = 0;
  Fixtures fixtures;
};

std::unique_ptr<Harness> start() {
  auto h = std::make_unique<Harness>();
  std::string dir_template =
      (std::filesystem::temp_directory_path() / "errand-fuzz-http-XXXXXX").string();
  check(mkdtemp(dir_template.data()) != nullptr, "a temp dir for the store");
  h->dir = dir_template;
  auto opened = embedded::open_embedded_broker(
      {.data_dir = h->dir.string(), .durability = embedded::Durability::kMemory});
  check(opened.is_ok(), "the store opens", opened.is_ok() ? "" : opened.status().message());
  h->broker = std::move(opened.value());
  h->metrics = std::make_unique<metrics::ServerMetrics>(*h->broker);
  // Short waits: Prefer: wait and long polls end at once when the client is
  // gone, but not after a pipelined request, which keeps its client "there".
  h->api = std::make_unique<api::Api>(*h->broker, *h->metrics,
                                      api::ApiOptions{.max_wait = std::chrono::milliseconds(100),
                                                      .sse_keepalive = std::chrono::seconds(1)});
  http::ServerLimits limits;
  limits.header_timeout = std::chrono::seconds(1);
  limits.body_timeout = std::chrono::seconds(1);
  limits.write_timeout = std::chrono::seconds(1);
  api::Api& api = *h->api;
  h->server = std::make_unique<http::Server>(
      h->io, [&api](http::Request& req) { return api.handle(req); }, limits);
  const auto err = h->server->listen("127.0.0.1:0");
  check(!err, "the server listens", err.value_or(""));
  h->port = h->server->port();
  return h;
}

void stop(std::unique_ptr<Harness> h) {
  h->server->close_all();
  h->work.reset();
  h->io.run_for(std::chrono::milliseconds(100));  // let the connections see it
  h->io.stop();
  h->server.reset();
  h->broker->shutdown();
  const auto dir = h->dir;
  // Members go in reverse order: the io_context, with any coroutine still in
  // it (they refer to the Api and metrics), before the Api, metrics and store.
  h.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// The harness of the inputs now running (replaced every kRestartEvery
// inputs). Stopped at exit, so that the store's threads are gone before
// static destructors run.
std::unique_ptr<Harness> current;
std::size_t inputs = 0;

void stop_at_exit() {
  stop(std::move(current));
  log::shutdown();
}

// Replaces the placeholders (see the top of this file) in `bytes`.
void substitute(std::string& bytes, const Fixtures& f) {
  static constexpr std::string_view kIdStem = "00000000-0000-7000-8000-0000000000";
  const JobId* ids[] = {&f.queued, &f.running, &f.succeeded, &f.failed, &f.flow};
  for (auto at = bytes.find(kIdStem); at != std::string::npos; at = bytes.find(kIdStem, at + 1)) {
    if (at + 36 > bytes.size() || bytes[at + 34] != '0') continue;
    const char n = bytes[at + 35];
    if (n < '1' || n > '5') continue;
    bytes.replace(at, 36, ids[n - '1']->to_string());
  }
  static const std::string kLease(32, '0');
  for (auto at = bytes.find(kLease); at != std::string::npos; at = bytes.find(kLease, at + 32)) {
    bytes.replace(at, 32, f.lease);
  }
}

// Sends `request` on a new connection, then reads until the server closes,
// `deadline` passes, or once all is sent nothing comes for `quiet`. Returns
// what came back, and whether the server closed.
std::pair<std::string, bool> exchange(asio::io_context& io, std::uint16_t port,
                                      std::string_view request, Clock::duration deadline,
                                      Clock::duration quiet) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(fd >= 0, "a client socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Close with RST: no TIME_WAIT left behind by thousands of connections.
  const linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  // Non-blocking from the start: libFuzzer's timer signal interrupts blocking calls.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  check(rc == 0 || errno == EINPROGRESS || errno == EINTR, "the client connects",
        std::strerror(errno));

  bool connected = rc == 0;
  std::string answer;
  std::size_t sent = 0;
  bool write_open = true;
  bool closed = false;
  const auto until = Clock::now() + deadline;
  auto heard = Clock::now();  // the last byte sent or received
  while (!closed) {
    const auto now = Clock::now();
    if (now >= until || (!write_open && now - heard >= quiet)) break;
    io.poll();
    pollfd p{fd, static_cast<short>(POLLIN | (write_open ? POLLOUT : 0)), 0};
    if (poll(&p, 1, 0) <= 0) {
      // Nothing for the client: run the server until one of its handlers ran
      // (it may have written to us) or a millisecond passed.
      io.run_one_for(std::chrono::milliseconds(1));
      continue;
    }
    if (!connected) {
      if ((p.revents & (POLLOUT | POLLERR | POLLHUP)) == 0) continue;
      int error = 0;
      socklen_t length = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
      check(error == 0, "the client connects", std::strerror(error));
      connected = true;
    }
    if (write_open && (p.revents & POLLOUT)) {
      const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        heard = Clock::now();
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) sent = request.size();  // the server closed
      if (sent == request.size()) {
        shutdown(fd, SHUT_WR);
        write_open = false;
      }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[16 * 1024];
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) heard = Clock::now();
      if (n > 0 && answer.size() < kKeepAnswerBytes) {
        answer.append(buf, static_cast<std::size_t>(n));
      }
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) closed = true;
    }
  }
  close(fd);
  return {std::move(answer), closed};
}

// Whether any answer in `bytes` has status 500. A status line starts the
// answer or follows a CRLF; bodies cannot fake one (JSON escapes CR and LF).
bool has_internal_error(std::string_view bytes) {
  for (std::string_view version : {"HTTP/1.1 500", "HTTP/1.0 500"}) {
    if (bytes.starts_with(version)) return true;
    if (bytes.find("\r\n" + std::string(version)) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace
}  // namespace errand::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace errand;
  log::configure(log::Format::kText, log::Level::kError, log::Writer::kCaller);
  fuzz::current = fuzz::start();
  std::atexit(fuzz::stop_at_exit);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace errand::fuzz;
  if (inputs > 0 && inputs % kRestartEvery == 0) {
    stop(std::move(current));
    current = start();
  }
  Harness& h = *current;
  if (inputs++ % kRefreshEvery == 0) {
    h.fixtures = populate(*h.broker, "fx" + std::to_string(inputs / kRefreshEvery));
  }
  std::string request(reinterpret_cast<const char*>(data), size);
  substitute(request, h.fixtures);
  const auto [answer, closed] = exchange(h.io, h.port, request, kAnswerDeadline, kQuietDeadline);
  check(!has_internal_error(answer), "no answer is a 500", answer.substr(0, 2000));
  if (!closed) {
    const auto [health, health_closed] =
        exchange(h.io, h.port, "GET /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n", kHealthDeadline,
                 kHealthDeadline);
    check(health.starts_with("HTTP/1.1 200"),
          "the server still answers /healthz after an input that kept its connection open", health);
  }
  return 0;
}
