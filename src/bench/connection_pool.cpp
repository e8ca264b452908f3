#include "bench/connection_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace errand::bench {

namespace net = boost::asio;

ConnectionPool::ConnectionPool(const net::any_io_executor& executor, const ServerAddress& server,
                               std::size_t max)
    : executor_(executor), server_(server), max_(max) {}

ConnectionPool::~ConnectionPool() = default;

net::awaitable<std::unique_ptr<HttpConnection>> ConnectionPool::acquire() {
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    co_return connection;
  }
  if (opened_ < max_) {
    ++opened_;
    co_return std::make_unique<HttpConnection>(executor_, server_);
  }
  Waiter waiter(executor_);
  waiters_.push_back(&waiter);
  waiter.wake.expires_at(net::steady_timer::time_point::max());
  while (!waiter.connection) {
    auto [ec] = co_await waiter.wake.async_wait(net::as_tuple(net::use_awaitable));
    (void)ec;  // cancelled by release(), which handed over the connection
  }
  co_return std::move(waiter.connection);
}

void ConnectionPool::release(std::unique_ptr<HttpConnection> connection) {
  if (waiters_.empty()) {
    idle_.push_back(std::move(connection));
    return;
  }
  Waiter* waiter = waiters_.front();
  waiters_.pop_front();
  waiter->connection = std::move(connection);
  waiter->wake.cancel();
}

}  // namespace errand::bench
