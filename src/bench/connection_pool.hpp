// Keep-alive connections handed out one request at a time, for the open
// loop of W3: an arrival takes an idle connection, or opens one while fewer
// than `max` are open, or waits (in arrival order) for one to come back.
// Waiting is what an overloaded server costs a real client, so the open
// loop counts it in the latency.
//
// Confined to the io_context thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <vector>

#include "bench/http_connection.hpp"

namespace errand::bench {

class ConnectionPool {
 public:
  ConnectionPool(const boost::asio::any_io_executor& executor, const ServerAddress& server,
                 std::size_t max);
  ~ConnectionPool();

  boost::asio::awaitable<std::unique_ptr<HttpConnection>> acquire();
  // Gives `connection` to the longest waiting acquire(), else keeps it idle.
  void release(std::unique_ptr<HttpConnection> connection);

  std::size_t opened() const { return opened_; }

 private:
  struct Waiter {
    explicit Waiter(const boost::asio::any_io_executor& executor) : wake(executor) {}
    boost::asio::steady_timer wake;
    std::unique_ptr<HttpConnection> connection;
  };

  boost::asio::any_io_executor executor_;
  const ServerAddress& server_;
  std::size_t max_;
  std::size_t opened_ = 0;
  std::vector<std::unique_ptr<HttpConnection>> idle_;
  std::deque<Waiter*> waiters_;  // not owned: each lives in its acquire() frame
};

}  // namespace errand::bench
