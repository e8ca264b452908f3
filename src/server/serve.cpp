#include "server/serve.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "alerts/alert_service.hpp"
#include "api/access_credentials.hpp"
#include "api/api.hpp"
#include "api/http/server.hpp"
#include "engine/broker.hpp"
#include "logging/job_log.hpp"
#include "logging/log.hpp"
#include "metrics/server_metrics.hpp"
#include "server/memory_guard.hpp"
#include "store/embedded/embedded_broker.hpp"
#include "store/postgres/postgres_broker.hpp"
#include "tracing/otlp_exporter.hpp"

namespace errand::server {

namespace asio = boost::asio;

namespace {

// An io_context whose pending handlers can be dropped before any io_context
// is destroyed: the handlers of one hold objects of another (an accept on the
// first holds its new connection's socket, made on the context it was dealt
// to; every connection holds the server, whose acceptor is on the first).
// Destroying one context while another still holds its objects would call
// into a destroyed service.
class IoContext : public asio::io_context {
 public:
  using asio::io_context::io_context;
  // What ~io_context does first; idempotent.
  void drop_handlers() { shutdown(); }
};

// One log line per alert that fires (warn) or resolves (info).
void log_alert(const Alert& a) {
  const bool firing = a.state == AlertState::kFiring;
  log::write(firing ? log::Level::kWarn : log::Level::kInfo,
             firing ? "alert firing" : "alert resolved",
             {{"alert", a.name},
              {"queue", a.queue},
              {"kind", alert_kind_name(a.kind)},
              {"value", a.value},
              {"threshold", a.threshold}});
}

std::string_view durability_name(embedded::Durability d) {
  return d == embedded::Durability::kFsync ? "fsync"
         : d == embedded::Durability::kOs  ? "os"
                                           : "memory";
}

// Applies the config file's [[queues]] settings, each durably, before serving.
bool is_postgres_url(std::string_view store) {
  return store.starts_with("postgresql://") || store.starts_with("postgres://");
}

// The store --store names: the embedded one, or PostgreSQL.
Result<std::unique_ptr<Broker>> open_store(const ServeOptions& options) {
  if (options.store == "embedded") {
    return embedded::open_embedded_broker({.data_dir = options.data_dir,
                                           .durability = options.durability,
                                           .no_worker_after_ms = options.no_worker_after.count()});
  }
  if (is_postgres_url(options.store)) {
    return postgres::open_postgres_broker({.url = options.store,
                                           .pool_size = options.store_pool_size,
                                           .no_worker_after_ms = options.no_worker_after.count(),
                                           .answer_timeout_ms = options.store_timeout.count()});
  }
  return invalid_argument("--store must be embedded or a postgresql:// URL");
}

// What the logs say of the store: never a URL's password.
std::string store_description(const ServeOptions& options) {
  if (options.store == "embedded") return "embedded " + options.data_dir;
  return "postgresql";
}

Status configure_queues(Broker& broker, const std::vector<ServeOptions::QueueConfig>& queues) {
  for (const auto& q : queues) {
    std::promise<Status> written;
    broker.configure_queue(q.name, {.max_queued = q.max_queued},
                           [&written](Result<QueueStats> r) { written.set_value(r.status()); });
    if (Status s = written.get_future().get(); !s.is_ok()) return s;
  }
  return Status::ok();
}

}  // namespace

int serve(const ServeOptions& options) {
  log::configure(options.log_format, options.log_level, log::Writer::kBackground);
  auto credentials = api::credentials_for_serving(options.tokens, options.admin_token,
                                                  options.listen, options.insecure);
  if (!credentials) {
    std::fprintf(stderr, "errand: %s\n", credentials.status().message().c_str());
    return 2;
  }
  std::shared_ptr<http::TlsContext> tls;
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    std::string error;
    tls =
        http::load_tls_context({.cert_file = options.tls_cert, .key_file = options.tls_key}, error);
    if (!tls) {
      std::fprintf(stderr, "errand: cannot serve HTTPS: %s\n", error.c_str());
      return 2;
    }
  }
  auto opened = open_store(options);
  if (!opened) {
    log::error("cannot open the store",
               {{"store", store_description(options)}, {"reason", opened.status().message()}});
    return opened.status().code() == Code::kInvalidArgument ? 2 : 1;
  }
  std::unique_ptr<Broker> broker = std::move(opened.value());
  if (Status configured = configure_queues(*broker, options.queues); !configured.is_ok()) {
    log::error("cannot apply the [[queues]] settings", {{"reason", configured.message()}});
    return 1;
  }
  MemoryGuard memory_guard(options.max_memory_bytes);
  log::info("memory guard", {{"limit_mib", memory_guard.limit_bytes() / (1024 * 1024)}});
  metrics::ServerMetrics metrics(*broker);
  log::JobLog job_log(broker->changes());
  std::optional<alerts::AlertService> alert_service;
  if (!options.alert_rules.empty()) {
    alert_service.emplace(*broker,
                          alerts::AlertServiceOptions{
                              .rules = options.alert_rules,
                              .webhook = {.log = [](const std::string& line) { log::warn(line); }},
                              .on_change = log_alert,
                          });
  }
  std::optional<tracing::OtlpExporter> otlp;
  if (!options.otlp_endpoint.empty()) {
    otlp.emplace(broker->changes(),
                 tracing::OtlpOptions{.endpoint = options.otlp_endpoint,
                                      .log = [](const std::string& line) { log::warn(line); }});
    metrics.set_spans_source([&otlp] {
      return metrics::ServerMetrics::SpanTotals{otlp->exported(), otlp->dropped()};
    });
  }
  api::Api api(*broker, metrics,
               {.max_wait = options.max_wait,
                .cors_origins = options.cors_origins,
                .alerts_document =
                    [&alert_service] {
                      std::string body = R"({"alerts":[)";
                      if (alert_service) {
                        const auto list = alert_service->list();
                        for (std::size_t i = 0; i < list.size(); ++i) {
                          if (i > 0) body += ',';
                          body += alerts::alert_json(list[i]);
                        }
                      }
                      return body + "]}";
                    },
                .refuse_new_work = [&memory_guard] { return memory_guard.refusal(); },
                .credentials = *credentials});

  // One io_context an I/O thread, connections dealt to them in turn: a
  // connection's events are handled by the thread that waits for them, where
  // one io_context run by every thread hands them from the thread in epoll_wait
  // to one waiting on a condition variable (a wake-up, often across cores).
  // `io` also runs the rest: signals, alerts, the drain.
  const int n =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  IoContext io(1);
  std::vector<std::unique_ptr<IoContext>> more_io;
  std::vector<asio::io_context*> connection_contexts{&io};
  for (int i = 1; i < n; ++i) {
    connection_contexts.push_back(more_io.emplace_back(std::make_unique<IoContext>(1)).get());
  }
  // Kept running without connections until the drain is over.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
  for (auto& c : more_io) keep_running.push_back(asio::make_work_guard(*c));
  http::ServerLimits limits;
  limits.max_connections = options.max_connections;
  limits.header_timeout = options.header_timeout;
  limits.body_timeout = options.body_timeout;
  limits.write_timeout = options.write_timeout;
  std::optional<http::Server> server_holder;
  http::Server& server = server_holder.emplace(
      io, [&api](http::Request& req) { return api.handle(req); }, limits, tls, connection_contexts);
  metrics.set_connections_source([&server] { return server.open_connections(); });
  metrics.set_resident_memory_source(resident_memory_bytes);
  if (auto err = server.listen(options.listen)) {
    log::error("cannot listen", {{"listen", options.listen}, {"reason", *err}});
    return 2;
  }
  // Before the listening line: whoever waits for it (a supervisor, a test)
  // may send SIGTERM at once, and must get a drain, not the default action.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log::info("draining", {{"signal", sig}});
    api.begin_drain();  // open waits answer now; leases are refused
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await server.shutdown(options.drain_grace);
          io.stop();
        },
        asio::detached);
    // A second signal (Ctrl-C again, an impatient supervisor) cuts the drain
    // short: busy connections close now. The store is still flushed below,
    // so what was acknowledged stays.
    signals.async_wait([&](const boost::system::error_code& ec2, int sig2) {
      if (ec2) return;
      log::warn("second signal: closing busy connections now", {{"signal", sig2}});
      server.close_all();
    });
  });

  const auto colon = options.listen.rfind(':');
  std::printf("errand listening on %s:%u\n", options.listen.substr(0, colon).c_str(),
              static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  log::info("serving", {{"store", store_description(options)},
                        {"port", server.port()},
                        {"scheme", tls ? "https" : "http"},
                        {"durability", durability_name(options.durability)}});

  std::vector<std::thread> threads;
  for (auto& c : more_io) threads.emplace_back([&c] { c->run(); });
  io.run();  // until the drain is over (io.stop() above)
  for (auto& c : more_io) c->stop();
  for (auto& t : threads) t.join();
  // No thread runs them now. The server posts its last words, then every
  // context drops what it still holds before any is destroyed (IoContext).
  server_holder.reset();
  io.drop_handlers();
  for (auto& c : more_io) c->drop_handlers();
  alert_service.reset();  // it samples the broker
  broker->shutdown();     // writes what is pending, then closes the store
  otlp.reset();           // after the store's last changes: flushes their spans
  log::info("stopped");
  return 0;
}

int migrate_store(const std::string& store) {
  if (!is_postgres_url(store)) {
    std::fprintf(stderr,
                 "errand: migrate needs a postgresql:// URL (the embedded store needs none)\n");
    return 2;
  }
  auto version = postgres::migrate_postgres(store);
  if (!version) {
    std::fprintf(stderr, "errand: %s\n", version.status().message().c_str());
    return 1;
  }
  std::printf("errand schema version %d\n", version.value());
  return 0;
}

}  // namespace errand::server
