// Internal to errand_http: the ClientWatch of one connection. Notices that the
// client closed (end of stream) or reset its connection while one of its
// requests is being handled, without reading anything the client sent.
//
// How: a peek, first synchronous (recv with MSG_PEEK | MSG_DONTWAIT) and then,
// once a callback is registered or a stream begins, asynchronous
// (`async_receive` with `message_peek`, which Asio tries at once and otherwise
// retries when the socket becomes readable). A peek that finds bytes ends the
// watch and leaves them for the next read; one that finds the end of the
// stream or an error means the client is gone. A request whose handler never
// asks costs nothing.
//
// Over TLS a peek cannot tell the client's close_notify from a pipelined
// request: TlsDisconnectWatch (tls_watch.hpp) reads instead of peeking.
//
// Confined to the connection's strand.
#pragma once

#include "api/http/message.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace errand::http::detail {

class DisconnectWatch : public ClientWatch {
 public:
  // REQUIRES: `socket` outlives this watch (both belong to one connection).
  explicit DisconnectWatch(boost::asio::ip::tcp::socket& socket) : DisconnectWatch(socket, true) {}
  virtual ~DisconnectWatch() = default;

  DisconnectWatch(const DisconnectWatch&) = delete;
  DisconnectWatch& operator=(const DisconnectWatch&) = delete;

  // `owner` keeps the socket and this watch alive: a pending peek holds it,
  // so that its completion never runs after they are gone.
  // REQUIRES: called before the first start().
  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  // A request was read. `more_buffered`: the client already sent bytes after
  // it (a pipelined request), so it still wants answers even if it closed
  // its side since: never report it gone.
  void begin_request(bool more_buffered) {
    state_ = more_buffered ? State::kReadable : State::kIdle;
  }

  // Starts watching, unless it watches already or knows the verdict.
  void start();

  // True once the client is gone; unlike gone(), never starts watching.
  bool noticed_gone() const { return state_ == State::kGone; }

  // Drops the wake callback: the handler or stream it belongs to returned.
  void forget_wake() { wake_ = nullptr; }

  // The response is written: stops watching, so that the next read owns the
  // socket, and forgets this request's verdict and callback.
  // REQUIRES: no other operation is pending on the socket (the peek is
  // cancelled with socket.cancel()).
  void end_request();

  // ClientWatch:
  bool gone() override;
  void on_gone(std::function<void()> wake) override;

 protected:
  // `peek_finds_requests`: bytes waiting on the socket are the client's next
  // request, so it is not gone (plain HTTP). When false, only arm() can tell.
  DisconnectWatch(boost::asio::ip::tcp::socket& socket, bool peek_finds_requests)
      : socket_(socket), peek_finds_requests_(peek_finds_requests) {}

  // Starts the asynchronous watch. Its completion must call
  // complete(generation(), ec, n), with n > 0 when the client sent bytes,
  // and keep `owner` until then. This one peeks.
  virtual void arm(std::shared_ptr<void> owner);
  void complete(std::uint64_t generation, const boost::system::error_code& ec, std::size_t n);
  std::uint64_t generation() const { return generation_; }

 private:
  enum class State {
    kIdle,      // not watching: nobody asked
    kWatching,  // a peek is pending
    kReadable,  // the client sent more bytes: not gone, and not watched
    kGone,      // end of stream, reset, or the socket was closed
  };

  // When not watching yet, peeks without waiting and records a verdict if
  // there is one. Returns true when the socket is idle and nothing is known.
  bool check_now();
  void declare_gone();

  boost::asio::ip::tcp::socket& socket_;
  const bool peek_finds_requests_;
  std::weak_ptr<void> owner_;
  std::function<void()> wake_;
  State state_ = State::kIdle;
  std::uint64_t generation_ = 0;  // bumped by end_request(): older peeks are stale
  char peeked_ = 0;               // where a peek copies the byte it leaves in place
};

}  // namespace errand::http::detail
