// Observability: the Prometheus scrape (GET /metrics) and the server-wide
// live stream of job state changes and queue counts (GET /v1/events), which
// the dashboard follows. docs/metrics.md and docs/api.md say what they send.
#include <boost/url/parse_query.hpp>

#include <mutex>
#include <optional>
#include <span>

#include "api/documents.hpp"
#include "api/handlers.hpp"
#include "api/http/problem.hpp"
#include "api/json_body.hpp"
#include "core/queue_name.hpp"
#include "engine/waiter_registry.hpp"

namespace errand::api {
namespace {

// What a /v1/events subscriber may have buffered and not yet written: past
// it the subscriber is too slow (or not reading) and is dropped. About 5 000
// job events, a few seconds of the heaviest submit load we measured.
constexpr std::size_t kMaxPendingBytes = 1 << 20;
constexpr auto kQueuesInterval = std::chrono::seconds(1);
// Not a queue topic (queue names cannot contain a space): subscribed to only
// so that begin_drain()'s notify_everyone() ends the streams at once.
const std::string kDrainTopic = "server events";

std::string optional_state(const std::optional<JobState>& s) {
  return s ? "\"" + std::string(to_string(*s)) + "\"" : "null";
}

void append_job_frame(std::string& out, const StateChange& c) {
  out += "event: job\ndata: {\"id\":\"" + c.id.to_string() + "\",\"queue\":" + quote(c.queue) +
         ",\"from\":" + optional_state(c.from) + ",\"to\":" + optional_state(c.to) + ",\"at\":\"" +
         format_rfc3339(c.at) + "\"}\n\n";
}

std::string queues_frame(const std::vector<QueueStats>& queues,
                         const std::optional<std::string>& only) {
  std::string out = "event: queues\ndata: {\"queues\":[";
  bool first = true;
  for (const QueueStats& q : queues) {
    if (only && q.name != *only) continue;
    if (!first) out += ',';
    first = false;
    out += queue_document(q);
  }
  return out + "]}\n\n";
}

// The frames one /v1/events stream has yet to write. The change feed fills it
// on the commit thread; the stream's coroutine takes them on its strand.
// Thread-safe.
class Subscriber {
 public:
  // REQUIRES: `metrics` outlives this.
  Subscriber(std::optional<std::string> queue, metrics::ServerMetrics& metrics)
      : queue_(std::move(queue)), metrics_(metrics) {}

  // The change feed's listener: quick, bounded, never blocks on the client.
  void add(std::span<const StateChange> changes) {
    std::shared_ptr<Signal> wake;
    {
      std::lock_guard lock(mutex_);
      if (dropped_) return;
      for (const StateChange& c : changes) {
        if (queue_ && c.queue != *queue_) continue;
        append_job_frame(pending_, c);
        if (pending_.size() > kMaxPendingBytes) {
          dropped_ = true;
          std::string().swap(pending_);  // free it now, not when the slow client leaves
          // Counted now: the stream may stay stuck in a write until its timeout.
          metrics_.count_events_dropped();
          break;
        }
      }
      if (!pending_.empty() || dropped_) wake = std::move(wake_);
    }
    if (wake) wake->fire();
  }

  struct Taken {
    std::string frames;
    bool dropped = false;
  };
  // Takes what is pending. When nothing is, `wake` fires on the next add().
  Taken take(std::shared_ptr<Signal> wake) {
    std::lock_guard lock(mutex_);
    Taken t{std::move(pending_), dropped_};
    pending_.clear();
    if (t.frames.empty() && !t.dropped) {
      wake_ = std::move(wake);
    } else {
      wake_.reset();
    }
    return t;
  }

 private:
  const std::optional<std::string> queue_;
  metrics::ServerMetrics& metrics_;
  std::mutex mutex_;
  std::string pending_;           // GUARDED_BY(mutex_)
  bool dropped_ = false;          // GUARDED_BY(mutex_)
  std::shared_ptr<Signal> wake_;  // GUARDED_BY(mutex_)
};

// Whether `accept` admits text/event-stream (no header admits anything).
bool accepts_event_stream(std::string_view accept) {
  return accept.empty() || accept.find("text/event-stream") != std::string_view::npos ||
         accept.find("*/*") != std::string_view::npos ||
         accept.find("text/*") != std::string_view::npos;
}

asio::awaitable<void> stream_server_events(State& s, const http::Request& req,
                                           std::optional<std::string> queue,
                                           http::EventSink& sink) {
  const metrics::GaugeScope open_stream(s.metrics.sse_streams());
  auto subscriber = std::make_shared<Subscriber>(queue, s.metrics);
  // Subscribed before the first queues event, so no change falls between them.
  // Ends the subscription however the stream ends, even when its frame is
  // destroyed unfinished (an io_context stopped at shutdown).
  struct Unsubscribe {
    ChangeFeed& feed;
    ChangeFeed::Id id;
    ~Unsubscribe() { feed.unsubscribe(id); }
  } const feed_sub{s.broker.cluster_changes(),
                   s.broker.cluster_changes().subscribe(
                       [subscriber](std::span<const StateChange> c) { subscriber->add(c); })};
  auto next_queues = Clock::now();
  while (!s.draining && !req.client_gone()) {
    if (Clock::now() >= next_queues) {
      auto qs = co_await await_result<std::vector<QueueStats>>(
          [&](auto cb) { s.broker.queues(std::move(cb)); });
      // Not `qs && co_await ...`: GCC 12 mishandles temporaries around a
      // co_await inside a short-circuit or conditional expression.
      if (qs) {
        if (!co_await sink.write(queues_frame(*qs, queue))) break;
      }
      next_queues = Clock::now() + kQueuesInterval;
    }
    auto signal = co_await Signal::make();
    Subscriber::Taken taken = subscriber->take(signal);
    if (taken.dropped) {
      co_await sink.write(
          "event: dropped\ndata: {\"reason\":\"this subscriber fell behind: more than " +
          std::to_string(kMaxPendingBytes) +
          " bytes of events were waiting to be sent; reconnect and re-read the state with "
          "GET /v1/queues and GET /v1/jobs\"}\n\n");
      break;
    }
    if (!taken.frames.empty()) {
      if (!co_await sink.write(std::move(taken.frames))) break;
      continue;
    }
    const auto drain_sub =
        s.broker.waiters().subscribe({&kDrainTopic, 1}, [signal] { signal->fire(); });
    if (!s.draining) {
      req.on_client_gone([signal] { signal->fire(); });
      co_await signal->wait(next_queues);
    }
    s.broker.waiters().unsubscribe(drain_sub);
  }
}

}  // namespace

Reply metrics_page(State& s) {
  auto qs = co_await await_result<std::vector<QueueStats>>(
      [&](auto cb) { s.broker.queues(std::move(cb)); });
  if (!qs) co_return error_response(qs.status());
  http::Response r;
  r.body = s.metrics.render(*qs);
  r.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  co_return r;
}

Reply server_events(State& s, http::Request& req) {
  std::optional<std::string> queue;
  auto params = boost::urls::parse_query(req.query());
  if (!params) co_return error_response(invalid_argument("the query string is malformed"));
  for (const auto& p : *params) {
    const std::string key = p.key.decode();
    const std::string value = p.value.decode();
    if (key != "queue") {
      co_return error_response(
          invalid_argument("unknown query parameter '" + key + "'; /v1/events accepts only queue"));
    }
    if (!is_valid_queue_name(value)) {
      co_return error_response(invalid_argument("queue '" + value +
                                                "' is not a valid queue name: use 1 to 128 of "
                                                "A-Z a-z 0-9 . _ -, starting with a letter or "
                                                "digit"));
    }
    queue = value;
  }
  if (!accepts_event_stream(req.header("accept").value_or(""))) {
    co_return http::problem(406,
                            "/v1/events is a Server-Sent Events stream: send "
                            "Accept: text/event-stream (GET /v1/queues has the counts as JSON)");
  }
  http::Response r;
  r.set("Content-Type", "text/event-stream");
  r.set("Cache-Control", "no-cache");
  // `req` outlives the stream (see http/message.hpp).
  r.stream = [&s, &req, queue](http::EventSink& sink) -> asio::awaitable<void> {
    co_await stream_server_events(s, req, queue, sink);
  };
  co_return r;
}

}  // namespace errand::api
