#include "api/http/disconnect_watch.hpp"

#include "api/http/server_impl.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <exception>
#include <utility>

namespace errand::http::detail {
namespace {

enum class Peek { kNothing, kReadable, kGone };

// What the socket holds right now, without waiting and without consuming it.
Peek peek_now(tcp::socket& socket) {
  if (!socket.is_open()) return Peek::kGone;
  char byte = 0;
  const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return Peek::kReadable;
  if (n == 0) return Peek::kGone;  // end of stream
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Peek::kNothing;
  return Peek::kGone;  // ECONNRESET, ETIMEDOUT, ...
}

}  // namespace

void DisconnectWatch::start() {
  // The synchronous peek makes the first answer exact: the asynchronous one
  // completes later, through the strand, even when its result is known at once.
  if (!check_now()) return;
  auto owner = owner_.lock();
  // The connection's coroutine holds the owner while it handles a request.
  if (!owner) return;
  state_ = State::kWatching;
  arm(std::move(owner));
}

void DisconnectWatch::arm(std::shared_ptr<void> owner) {
  socket_.async_receive(
      net::buffer(&peeked_, 1), tcp::socket::message_peek,
      [this, owner = std::move(owner), generation = generation_](
          const boost::system::error_code& ec, std::size_t n) { complete(generation, ec, n); });
}

bool DisconnectWatch::check_now() {
  if (state_ != State::kIdle) return false;
  switch (peek_now(socket_)) {
    case Peek::kGone:
      declare_gone();
      return false;
    case Peek::kReadable:
      if (!peek_finds_requests_) break;
      state_ = State::kReadable;
      return false;
    case Peek::kNothing:
      break;
  }
  return true;
}

void DisconnectWatch::end_request() {
  wake_ = nullptr;
  ++generation_;
  if (state_ == State::kWatching) {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  }
  state_ = State::kIdle;
}

bool DisconnectWatch::gone() {
  // Before anyone registered a callback, a peek answers without arming
  // anything: "check, then answer at once" (a lease that finds a job) costs
  // one system call.
  check_now();
  return state_ == State::kGone;
}

void DisconnectWatch::on_gone(std::function<void()> wake) {
  start();
  if (state_ == State::kGone) {
    if (wake) wake();
    return;
  }
  // kReadable: the watch is over and will never fire, so nothing to keep.
  wake_ = state_ == State::kWatching ? std::move(wake) : nullptr;
}

void DisconnectWatch::complete(std::uint64_t generation, const boost::system::error_code& ec,
                               std::size_t n) {
  if (generation != generation_ || state_ != State::kWatching) return;  // an earlier request's
  if (!ec && n > 0) {
    state_ = State::kReadable;
    wake_ = nullptr;
    return;
  }
  // End of stream, a reset, or the socket closed under us (close_all(), a
  // write deadline): in every case nobody will read an answer.
  declare_gone();
}

void DisconnectWatch::declare_gone() {
  state_ = State::kGone;
  auto wake = std::exchange(wake_, nullptr);
  if (!wake) return;
  try {
    wake();
  } catch (const std::exception& e) {
    // Runs inside an Asio completion: an escaping exception would stop an I/O thread.
    log_error(std::string("client-gone callback threw: ") + e.what());
  } catch (...) {
    log_error("client-gone callback threw a non-standard exception");
  }
}

}  // namespace errand::http::detail
