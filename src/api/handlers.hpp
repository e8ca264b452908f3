// The request handlers behind Api, grouped by who calls them. Internal to api/.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <string>

#include "api/api.hpp"
#include "api/async.hpp"
#include "api/http/message.hpp"
#include "engine/broker.hpp"
#include "metrics/server_metrics.hpp"

namespace errand::api {

struct Api::State {
  Broker& broker;
  metrics::ServerMetrics& metrics;
  ApiOptions options;
  std::atomic<bool> draining{false};
};
using State = Api::State;
using Reply = asio::awaitable<http::Response>;

// Answers one request (api.cpp): which handler for which method and path.
Reply route(State& s, http::Request& req);

// Responses.
http::Response json_response(int status, std::string body);
http::Response error_response(const Status& status);

// How long a request asked to wait (Prefer: wait=N), capped at max_wait; 0 when none.
std::chrono::milliseconds requested_wait(const State& s, const http::Request& req);
// Waits until the job is terminal, `deadline` passes, the server drains or
// the client of `req` goes away; returns the job as last read.
asio::awaitable<Result<JobView>> wait_for_terminal(State& s, const http::Request& req,
                                                   const JobId& id, Clock::time_point deadline);
Result<JobId> parse_job_id(std::string_view text);

// Producers (job_handlers.cpp).
Reply submit_job(State& s, http::Request& req, const std::string& queue);
Reply submit_batch(State& s, http::Request& req, const std::string& queue);
Reply get_job(State& s, http::Request& req, const JobId& id);
Reply job_events(State& s, http::Request& req, const JobId& id);
Reply cancel_job(State& s, const JobId& id);

// Workers (worker_handlers.cpp).
Reply lease_jobs(State& s, http::Request& req);
Reply ack_job(State& s, http::Request& req, const JobId& id);
Reply fail_job(State& s, http::Request& req, const JobId& id);
Reply heartbeat_job(State& s, http::Request& req, const JobId& id);
Reply ack_batch(State& s, http::Request& req);

// Operators (operator_handlers.cpp).
Reply list_jobs(State& s, http::Request& req);
Reply retry_job(State& s, const JobId& id);
Reply delete_job(State& s, const JobId& id);
Reply list_queues(State& s);
Reply get_queue(State& s, const std::string& queue);
Reply pause_queue(State& s, const std::string& queue, bool paused);
Reply readiness(State& s);

// Observability (observability_handlers.cpp): GET /metrics, GET /v1/events.
Reply metrics_page(State& s);
Reply server_events(State& s, http::Request& req);

}  // namespace errand::api
