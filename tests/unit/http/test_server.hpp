// The server the HTTP tests run (server_test.cpp over TCP, tls_server_test.cpp
// over TLS): its routes, the probe its watching handlers report to, and the
// test fixture that runs it on an ephemeral loopback port.
#pragma once

#include "api/http/problem.hpp"
#include "api/http/server.hpp"
#include "test_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace errand::http::testing {

namespace net = boost::asio;
using namespace std::chrono_literals;

inline constexpr std::string_view kHello = R"({"hello":"world"})";

// Waits `delay` on the caller's executor: simulated work inside handlers.
inline net::awaitable<void> pause(std::chrono::milliseconds delay) {
  net::steady_timer timer(co_await net::this_coro::executor, delay);
  co_await timer.async_wait(net::use_awaitable);
}

// How many /slow requests reached the handler: a connection counts as idle
// until its request has been read, and draining closes idle connections.
inline std::atomic<int> slow_started{0};

// What the handlers that watch for their client leaving saw, for the test
// thread. Reset by each test that uses it.
struct WatchProbe {
  std::atomic<int> waiting{0};       // handlers (or streams) that started to watch
  std::atomic<int> gone{0};          // ... that ended seeing their client gone
  std::atomic<int> present{0};       // ... that ended with their client still there
  std::atomic<int> woken{0};         // on_client_gone callbacks that ran
  std::atomic<bool> proceed{false};  // set by the test: a waiting handler may go on

  void reset() {
    waiting = gone = present = woken = 0;
    proceed = false;
  }
  void record(const Request& request) { ++(request.client_gone() ? gone : present); }
};
inline WatchProbe probe;

// True when `condition` holds before TestClient's deadline.
template <typename Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + TestClient::kDeadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Waits until the test sets probe.proceed (bounded: a broken test must not hang).
inline net::awaitable<void> until_proceed() {
  for (int i = 0; i < 1000 && !probe.proceed; ++i) co_await pause(5ms);
}

// Waits up to 10 s, or until `request`'s client goes away.
inline net::awaitable<void> wait_for_client_to_leave(const Request& request) {
  net::steady_timer timer(co_await net::this_coro::executor, 10s);
  request.on_client_gone([&timer] {
    ++probe.woken;
    timer.cancel();
  });
  ++probe.waiting;
  if (!request.client_gone()) co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  probe.record(request);
}

inline net::awaitable<Response> route(Request& request) {
  const auto path = request.path();
  Response response;
  if (path == "/hello") {
    response.body = kHello;
  } else if (path == "/echo") {
    response.body = request.body;
    response.set("X-Method", request.method);
    response.set("X-Query", std::string(request.query()));
    response.set("X-Echo", std::string(request.header("x-echo").value_or("")));
  } else if (path == "/throw") {
    throw std::runtime_error("handler failed on purpose");
  } else if (path == "/no-content") {
    response.status = 204;
  } else if (path == "/stream") {
    response.set("Content-Type", "text/event-stream");
    response.stream = [](EventSink& sink) -> net::awaitable<void> {
      for (int i = 0; i < 3; ++i) {
        if (!co_await sink.write("data: " + std::to_string(i) + "\n\n")) co_return;
      }
    };
  } else if (path == "/forever") {
    response.set("Content-Type", "text/event-stream");
    response.stream = [](EventSink& sink) -> net::awaitable<void> {
      while (co_await sink.write("data: tick\n\n")) co_await pause(10ms);
    };
  } else if (path == "/wait-for-close") {
    co_await wait_for_client_to_leave(request);
    response.body = kHello;
  } else if (path == "/check-late") {
    // Asks only once the test has closed the connection: nothing watched before.
    ++probe.waiting;
    co_await until_proceed();
    probe.record(request);
    response.body = kHello;
  } else if (path == "/watch-awhile") {
    // Watches until the test says so (the client may pipeline meanwhile), then answers.
    request.on_client_gone([] { ++probe.woken; });
    ++probe.waiting;
    co_await until_proceed();
    co_await pause(50ms);  // time for the watch to notice what the client sent
    probe.record(request);
    response.body = request.client_gone() ? "gone" : "present";
  } else if (path == "/idle-stream") {
    response.set("Content-Type", "text/event-stream");
    // The Request outlives the stream, so the stream may use it.
    response.stream = [&request](EventSink& sink) -> net::awaitable<void> {
      if (!co_await sink.write("data: hello\n\n")) co_return;
      co_await wait_for_client_to_leave(request);
      if (co_await sink.write("data: bye\n\n")) ++probe.present;  // must fail: nobody listens
    };
  } else if (path == "/thread") {
    // Which thread serves this connection: connections are dealt to the
    // server's io_contexts, one thread each.
    response.body = std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  } else if (path == "/slow") {
    ++slow_started;
    co_await pause(300ms);
    response.body = kHello;
  } else {
    response = problem(404, "no route");
  }
  co_return response;
}

// A server on an ephemeral loopback port, run as in production by two
// threads, one io_context each, the first also accepting; HTTPS when given a
// TlsContext.
class ServerTest : public ::testing::Test {
 protected:
  void start(ServerLimits limits = {}, std::shared_ptr<TlsContext> tls = nullptr) {
    server_ = std::make_unique<Server>(io_, route, limits, std::move(tls),
                                       std::vector<net::io_context*>{&io_, &other_io_});
    ASSERT_EQ(server_->listen("127.0.0.1:0"), std::nullopt);
    ASSERT_NE(server_->port(), 0);
    threads_.emplace_back([this] { io_.run(); });
    threads_.emplace_back([this] { other_io_.run(); });
  }

  void TearDown() override {
    server_.reset();
    work_.reset();
    other_work_.reset();
    for (auto& thread : threads_) thread.join();
  }

  TestClient connect() { return TestClient(server_->port()); }

  // Sends `raw` on a new connection and returns the answer, which must be
  // followed by the server closing the connection.
  TestResponse refused(std::string_view raw) {
    TestClient client = connect();
    EXPECT_TRUE(client.send(raw));
    auto response = client.read_response();
    EXPECT_TRUE(response.has_value());
    if (!response) return {};
    EXPECT_EQ(response->header("Content-Type"), "application/problem+json");
    EXPECT_EQ(response->header("Connection"), "close");
    EXPECT_EQ(boost::json::parse(response->body).at("status").to_number<int>(), response->status);
    EXPECT_TRUE(client.closed_by_server());
    return *response;
  }

  net::io_context io_{1};
  net::io_context other_io_{1};
  net::executor_work_guard<net::io_context::executor_type> work_{io_.get_executor()};
  net::executor_work_guard<net::io_context::executor_type> other_work_{other_io_.get_executor()};
  std::unique_ptr<Server> server_;
  std::vector<std::thread> threads_;
};

}  // namespace errand::http::testing
