#include "server/serve.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <thread>
#include <vector>

#include "api/api.hpp"
#include "api/http/server.hpp"
#include "engine/broker.hpp"
#include "store/embedded/embedded_broker.hpp"

namespace errand::server {

namespace asio = boost::asio;

int serve(const ServeOptions& options) {
  auto opened = embedded::open_embedded_broker(
      {.data_dir = options.data_dir, .durability = options.durability});
  if (!opened) {
    spdlog::error("{}", opened.status().message());
    return 1;
  }
  std::unique_ptr<Broker> broker = std::move(opened.value());
  api::Api api(*broker, {.max_wait = options.max_wait, .cors_origins = options.cors_origins});

  asio::io_context io;
  http::ServerLimits limits;
  limits.max_connections = options.max_connections;
  http::Server server(
      io, [&api](http::Request& req) { return api.handle(req); }, limits);
  if (auto err = server.listen(options.listen)) {
    spdlog::error("cannot listen on {}: {}", options.listen, *err);
    return 2;
  }
  const auto colon = options.listen.rfind(':');
  std::printf("errand listening on %s:%u\n", options.listen.substr(0, colon).c_str(),
              static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  spdlog::info("serving {} on port {} (durability {})", options.data_dir, server.port(),
               options.durability == embedded::Durability::kFsync ? "fsync"
               : options.durability == embedded::Durability::kOs  ? "os"
                                                                  : "memory");

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: draining", sig);
    api.begin_drain();  // open waits answer now; leases are refused
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await server.shutdown(options.drain_grace);
          io.stop();
        },
        asio::detached);
  });

  const int n =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  for (int i = 1; i < n; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : threads) t.join();
  broker->shutdown();  // writes what is pending, then closes the store
  spdlog::info("stopped");
  return 0;
}

}  // namespace errand::server
