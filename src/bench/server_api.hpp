// The calls of errand's HTTP API (SPEC §3) the workloads make, over one
// HttpConnection each. An answer other than the one expected, or no answer,
// throws BenchFailure naming the request, the status and the server's
// problem detail.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bench/http_connection.hpp"

namespace errand::bench {

// SPEC §6: 100-byte payloads; the worker's small result.
inline constexpr std::size_t kPayloadBytes = 100;
inline constexpr std::string_view kResult = "ok";

// How long a request may take beyond any wait it asks for.
inline constexpr std::chrono::seconds kRequestTimeout{30};

// The body of one submit: {"payload": "<100 bytes>"}.
const std::string& job_body();
// The body of a batch submit of `jobs` jobs.
std::string batch_body(int jobs);

// "/v1/queues/<queue>/jobs" and friends; `queue` is a valid queue name.
std::string jobs_target(std::string_view queue);
std::string batch_target(std::string_view queue);

// Throws BenchFailure unless `response` has status `expected`.
void expect_status(const HttpResponse& response, int expected, std::string_view method,
                   std::string_view target, const ServerAddress& server);

// Throws BenchFailure unless `response` is a round trip's: 200 with the job
// succeeded and its result kResult.
void expect_round_trip(const HttpResponse& response, std::string_view target,
                       const ServerAddress& server);

struct LeasedJob {
  std::string id;
  std::string lease;
};

// POST .../batch of `jobs` (1..1000) jobs; returns their ids.
boost::asio::awaitable<std::vector<std::string>> submit_batch(HttpConnection& connection,
                                                              const ServerAddress& server,
                                                              std::string_view queue, int jobs);

// POST /v1/leases of up to `max` jobs of `queue`, waiting up to
// `wait_seconds` for the first.
boost::asio::awaitable<std::vector<LeasedJob>> lease(HttpConnection& connection,
                                                     const ServerAddress& server,
                                                     std::string_view queue, int max,
                                                     int wait_seconds);

// POST /v1/acks of every job in `jobs`, with result `kResult`; throws unless
// every ack was taken.
boost::asio::awaitable<void> ack_all(HttpConnection& connection, const ServerAddress& server,
                                     const std::vector<LeasedJob>& jobs);

// GET /v1/queues/<queue>: its counts by state (empty for an unknown queue).
boost::asio::awaitable<std::map<std::string, std::int64_t>> queue_counts(
    HttpConnection& connection, const ServerAddress& server, std::string_view queue);

// The body of GET /metrics, or empty when the server refuses it (a token
// without the admin role).
boost::asio::awaitable<std::string> metrics_text(HttpConnection& connection,
                                                 const ServerAddress& server);

}  // namespace errand::bench
