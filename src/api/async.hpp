// Bridges between the Broker's callbacks and the API's coroutines.
//
// Signal is a one-shot event a coroutine can wait on with a deadline; it is
// fired from any thread (the broker's commit thread, a waiter notification)
// and completes on the coroutine's own executor (its connection strand).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>

#include "core/status.hpp"
#include "engine/broker.hpp"

namespace errand::api {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Thread-safe fire(); wait() must be called from the executor it was made on.
class Signal : public std::enable_shared_from_this<Signal> {
 public:
  explicit Signal(const asio::any_io_executor& ex) : timer_(ex) {}

  static asio::awaitable<std::shared_ptr<Signal>> make() {
    co_return std::make_shared<Signal>(co_await asio::this_coro::executor);
  }

  void fire() {
    asio::post(timer_.get_executor(), [self = shared_from_this()] { self->fire_here(); });
  }
  // fire() from the executor the signal was made on: no post.
  void fire_here() {
    fired_ = true;
    timer_.cancel();
  }
  // Arms the signal again after a wake-up that did not end the wait. Call
  // it on the signal's executor.
  void reset() { fired_ = false; }

  // True when fired (now or before), false when `deadline` passed first.
  asio::awaitable<bool> wait(Clock::time_point deadline) {
    if (!fired_) {
      timer_.expires_at(deadline);
      co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return fired_;
  }

  bool fired() const { return fired_; }

 private:
  asio::steady_timer timer_;
  bool fired_ = false;
};

// Calls `op` with a callback that puts its Result<T> into the returned box,
// then fires `signal`. The box is shared: the callback may come after the
// waiting coroutine is gone.
template <typename T, typename Op>
std::shared_ptr<std::optional<Result<T>>> call_into_box(Op& op, std::shared_ptr<Signal> signal) {
  auto slot = std::make_shared<std::optional<Result<T>>>();
  op([signal = std::move(signal), slot](Result<T> r) {
    // Written before fire() posts; read on the strand after the post.
    *slot = std::move(r);
    signal->fire();
  });
  return slot;
}

// Runs `op(callback)` and waits for the callback's Result<T>.
template <typename T, typename Op>
asio::awaitable<Result<T>> await_result(Op op) {
  auto signal = co_await Signal::make();
  auto slot = call_into_box<T>(op, signal);
  co_await signal->wait(Clock::time_point::max());
  co_return std::move(**slot);
}

// await_result() that returns the box the callback filled, for coroutines
// that must not hold a Result<T> in their frame (read_until).
template <typename T, typename Op>
asio::awaitable<std::shared_ptr<std::optional<Result<T>>>> await_boxed(Op op) {
  auto signal = co_await Signal::make();
  auto slot = call_into_box<T>(op, signal);
  co_await signal->wait(Clock::time_point::max());
  co_return slot;
}

}  // namespace errand::api
