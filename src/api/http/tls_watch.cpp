#include "api/http/tls_watch.hpp"

#include <algorithm>

namespace errand::http::detail {
namespace {

// A request usually fits, and a close_notify always does; more waits for the next read.
constexpr std::size_t kProbeBytes = 1024;

}  // namespace

TlsDisconnectWatch::TlsDisconnectWatch(TlsStream& stream, beast::flat_buffer& buffer)
    : DisconnectWatch(beast::get_lowest_layer(stream).socket(), false),
      stream_(stream),
      buffer_(buffer),
      settled_(stream.get_executor()) {}

void TlsDisconnectWatch::arm(std::shared_ptr<void> owner) {
  // The read buffer is empty here: a request that left bytes in it never watches.
  const std::size_t room = std::min(buffer_.max_size() - buffer_.size(), kProbeBytes);
  // A write deadline set earlier would otherwise apply to this read, which
  // may rightly last as long as a stream does.
  beast::get_lowest_layer(stream_).expires_never();
  reading_ = true;
  stream_.async_read_some(buffer_.prepare(room),
                          [this, owner = std::move(owner), generation = generation()](
                              const error_code& ec, std::size_t n) {
                            buffer_.commit(n);
                            reading_ = false;
                            settled_.cancel();
                            complete(generation, ec, n);
                          });
}

net::awaitable<void> TlsDisconnectWatch::end_request_and_settle() {
  end_request();
  while (reading_) {
    settled_.expires_at(net::steady_timer::time_point::max());
    co_await settled_.async_wait(kTuple);
  }
}

}  // namespace errand::http::detail
