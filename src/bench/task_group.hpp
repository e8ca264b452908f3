// How the load generator runs coroutines side by side and stops at the first
// error: a benchmark with errors measures nothing, so any failure aborts the
// whole run (Abort stops the io_context) instead of being counted.
//
// Confined to the io_context thread.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>

namespace errand::bench {

namespace net = boost::asio;

// An unexpected answer or an unreachable server; what() is one sentence
// without "errand: ".
class BenchFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The first failure of a run.
class Abort {
 public:
  explicit Abort(net::io_context& context) : context_(context) {}

  // Records `e` unless a failure came first, and stops the run.
  void fail(const std::exception_ptr& e) {
    if (!message_) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        message_ = ex.what();
      } catch (...) {
        message_ = "unknown failure";
      }
    }
    context_.stop();
  }
  const std::optional<std::string>& message() const { return message_; }

 private:
  net::io_context& context_;
  std::optional<std::string> message_;
};

// Coroutines started together and waited for together.
class TaskGroup {
 public:
  TaskGroup(const net::any_io_executor& executor, Abort& abort)
      : executor_(executor), abort_(abort), done_(executor) {}

  void spawn(net::awaitable<void> task) {
    ++running_;
    net::co_spawn(executor_, std::move(task), [this](const std::exception_ptr& e) {
      if (e) abort_.fail(e);
      if (--running_ == 0) done_.cancel();
    });
  }

  // Returns once every task spawned so far has ended.
  net::awaitable<void> wait() {
    while (running_ > 0) {
      done_.expires_at(net::steady_timer::time_point::max());
      co_await done_.async_wait(net::as_tuple(net::use_awaitable));
    }
  }

  int running() const { return running_; }

 private:
  net::any_io_executor executor_;
  Abort& abort_;
  net::steady_timer done_;
  int running_ = 0;
};

}  // namespace errand::bench
