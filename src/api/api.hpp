// Api: the HTTP API of SPEC §3 (producers, workers, operators, health) on
// top of a Broker. It turns requests into broker calls and broker answers
// into responses; waiting (Prefer: wait, long-poll leases, SSE) is driven by
// the broker's WaiterRegistry, never by polling.
//
// Thread-safe: handle() runs concurrently on many connection strands.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/http/message.hpp"

namespace errand {
class Broker;
}
namespace errand::metrics {
class ServerMetrics;
}

namespace errand::api {

class Credentials;  // api/access_credentials.hpp

struct ApiOptions {
  std::chrono::milliseconds max_wait{60'000};       // cap on Prefer: wait
  std::chrono::milliseconds sse_keepalive{15'000};  // comment line on idle SSE streams
  std::vector<std::string> cors_origins;            // empty: CORS off; "*": any origin
  // The body of GET /v1/alerts ({"alerts": [...]}); unset: no alert rules.
  std::function<std::string()> alerts_document;
  // Why new work (submits, flows) is refused right now with 503, e.g. the
  // memory guard; unset or nullopt: accepted.
  std::function<std::optional<std::string>()> refuse_new_work;
  // The tokens requests must carry (docs/security.md); null: no token is
  // configured and every request is allowed.
  std::shared_ptr<const Credentials> credentials;
};

class Api {
 public:
  // REQUIRES: `broker` and `metrics` outlive this.
  Api(Broker& broker, metrics::ServerMetrics& metrics, ApiOptions options);
  ~Api();

  boost::asio::awaitable<http::Response> handle(http::Request& req);

  // Graceful shutdown, step one: open waits answer now (202 / empty lists),
  // SSE streams end, new leases are refused with 503, /readyz fails.
  void begin_drain();

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace errand::api
