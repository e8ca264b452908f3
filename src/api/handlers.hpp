// The request handlers behind Api, grouped by who calls them. Internal to api/.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "api/api.hpp"
#include "api/async.hpp"
#include "api/http/message.hpp"
#include "engine/broker.hpp"
#include "engine/waiter_registry.hpp"
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
// A wait as Preference-Applied writes it ("2", "0.25").
std::string wait_value(std::chrono::milliseconds wait);

// Reads with `read` (a broker call given a Callback<T>) until `finished`
// holds for the value, `deadline` passes, the server drains or the client of
// `req` goes away, reading again after each notification of `topic`;
// returns the value as last read. A deadline already past: one plain read.
// While `unfinished()` (a cheap hint, e.g. Broker::known_unfinished) says the
// value could not be finished yet, the read is skipped and the wait goes on.
template <typename T, typename Read, typename Finished, typename Unfinished>
asio::awaitable<Result<T>> read_until(State& s, const http::Request& req, std::string topic,
                                      Read read, Finished finished, Clock::time_point deadline,
                                      Unfinished unfinished) {
  // Values stay in their box (await_boxed): a coroutine frame keeps room for
  // every Result<T> it names, 1 KB each for a JobView, and thousands of these
  // frames may wait at once.
  if (Clock::now() >= deadline) co_return std::move(**co_await await_boxed<T>(read));
  const metrics::GaugeScope open_wait(s.metrics.open_waits());
  for (;;) {
    auto signal = co_await Signal::make();
    // Subscribed before the check, so no change between the two is missed.
    const auto sub = s.broker.waiters().subscribe({&topic, 1}, [signal] { signal->fire(); });
    const bool stop = s.draining || Clock::now() >= deadline || req.client_gone();
    if (stop || !unfinished()) {
      auto value = co_await await_boxed<T>(read);
      Result<T>& v = **value;
      if (stop || !v || finished(*v)) {
        s.broker.waiters().unsubscribe(sub);
        co_return std::move(v);
      }
    }
    req.on_client_gone([signal] { signal->fire(); });
    co_await signal->wait(deadline);
    s.broker.waiters().unsubscribe(sub);
  }
}

// Waits until the job is terminal (read_until); returns the job as last read.
// `payload`, when not null, is the job's payload as its submitter sent it:
// it lets a broker's ended_view() that keeps no payloads answer the wait.
asio::awaitable<Result<JobView>> wait_for_terminal(State& s, const http::Request& req,
                                                   const JobId& id, Clock::time_point deadline,
                                                   const std::string* payload = nullptr);
Result<JobId> parse_job_id(std::string_view text);

// For the submits of jobs and flows: a valid W3C traceparent header, or ""
// (an invalid one is ignored, as Trace Context asks).
std::string valid_traceparent(const http::Request& req);
// Takes the Idempotency-Key header into `key` (the body's idempotency_key):
// 400 when it is malformed or differs from a key the body gave.
Status take_idempotency_header(const http::Request& req, std::string& key);
// 200 with `document`, and Preference-Applied when the request waited.
http::Response document_answer(std::string document, std::chrono::milliseconds waited);
// 200 with `document` when `finished`, else 202 pointing at `location`;
// Preference-Applied when the request waited, Idempotent-Replayed on a replay.
http::Response submit_answer(bool finished, std::string document, const std::string& location,
                             bool replayed, std::chrono::milliseconds waited);

// A job's or a flow's timeline, as GET .../events answers it
// (timeline_events.cpp).
struct TimelineSource {
  std::string topic;  // notified after every durable change of the subject
  // Reads the events with seq > after_seq, oldest first.
  std::function<void(std::uint32_t after_seq, Callback<std::vector<TimelineEvent>>)> read;
  // Whether the subject is finished; an error (404: no such subject) is the answer.
  std::function<void(Callback<bool>)> finished;
};
// {"events": [...]}, or with Accept: text/event-stream, Server-Sent Events
// from Last-Event-ID that follow live and end after the terminal event.
Reply timeline_events(State& s, http::Request& req, TimelineSource source);

// The handlers. route() starts them only after its dispatcher returns, so
// what they take by reference must be the State, the Request or the path
// segments route() holds; anything parsed from the path (a JobId) they take
// by value.

// Producers (job_handlers.cpp).
Reply submit_job(State& s, http::Request& req, const std::string& queue);
Reply submit_batch(State& s, http::Request& req, const std::string& queue);
Reply get_job(State& s, http::Request& req, JobId id);
Reply job_events(State& s, http::Request& req, JobId id);
Reply cancel_job(State& s, JobId id);

// Flows (flow_handlers.cpp).
Reply submit_flow(State& s, http::Request& req);
Reply get_flow(State& s, http::Request& req, JobId id);
Reply flow_events(State& s, http::Request& req, JobId id);
Reply cancel_flow(State& s, JobId id);
Reply list_flows(State& s, http::Request& req);
Result<JobId> parse_flow_id(std::string_view text);

// Workers (worker_handlers.cpp).
Reply lease_jobs(State& s, http::Request& req);
Reply ack_job(State& s, http::Request& req, JobId id);
Reply fail_job(State& s, http::Request& req, JobId id);
Reply heartbeat_job(State& s, http::Request& req, JobId id);
Reply ack_batch(State& s, http::Request& req);

// Operators (operator_handlers.cpp).
Reply list_jobs(State& s, http::Request& req);
Reply retry_job(State& s, JobId id);
Reply delete_job(State& s, JobId id);
Reply list_queues(State& s);
Reply get_queue(State& s, const std::string& queue);
Reply pause_queue(State& s, const std::string& queue, bool paused);
// PUT /v1/queues/{queue}: {"max_queued": N | null} (docs/api.md).
Reply configure_queue(State& s, http::Request& req, const std::string& queue);
inline constexpr std::int64_t kMaxQueuedLimit = 1'000'000'000;
Reply readiness(State& s);

// Observability (observability_handlers.cpp): GET /metrics, GET /v1/events.
Reply metrics_page(State& s);
Reply server_events(State& s, http::Request& req);

}  // namespace errand::api
