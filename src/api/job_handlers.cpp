// Producers: submit (one or a batch), read a job with or without waiting,
// follow its timeline, cancel it.
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>

#include "api/documents.hpp"
#include "api/handlers.hpp"
#include "api/json_body.hpp"
#include "core/trace_context.hpp"
#include "engine/waiter_registry.hpp"

namespace errand::api {
namespace {

constexpr std::size_t kMaxBatch = 1000;

// A valid W3C traceparent, or "" (an invalid one is ignored, as Trace
// Context asks).
std::string valid_traceparent(const http::Request& req) {
  auto tp = req.header("traceparent");
  if (!tp || !parse_traceparent(*tp)) return {};
  return std::string(*tp);
}

std::string wait_value(std::chrono::milliseconds wait) {
  if (wait.count() % 1000 == 0) return std::to_string(wait.count() / 1000);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(wait.count()) / 1000.0);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  return s;
}

// 200 with the job when terminal, else 202 pointing at it.
http::Response job_answer(const JobView& job, bool replayed, std::chrono::milliseconds waited) {
  const bool done = is_terminal(job.record.state);
  auto r = json_response(done ? 200 : 202, job_document(job));
  if (!done) {
    r.set("Location", "/v1/jobs/" + job.record.id.to_string());
    r.set("Retry-After", "1");
  }
  if (waited.count() > 0) r.set("Preference-Applied", "wait=" + wait_value(waited));
  if (replayed) r.set("Idempotent-Replayed", "true");
  return r;
}

}  // namespace

Reply submit_job(State& s, http::Request& req, const std::string& queue) {
  auto body = parse_json_body(req);
  if (!body) co_return error_response(body.status());
  if (!body->is_object())
    co_return error_response(invalid_argument("the body must be a JSON object"));
  auto spec = parse_submit(body->get_object(), queue, now_millis());
  if (!spec) co_return error_response(spec.status());
  if (auto key = req.header("idempotency-key")) {
    if (key->empty() || key->size() > 256) {
      co_return error_response(invalid_argument("Idempotency-Key must be 1 to 256 bytes"));
    }
    if (!spec->idempotency_key.empty() && spec->idempotency_key != *key) {
      co_return error_response(
          invalid_argument("the Idempotency-Key header and the idempotency_key field differ"));
    }
    spec->idempotency_key = std::string(*key);
  }
  spec->traceparent = valid_traceparent(req);
  const auto wait = requested_wait(s, req);
  const auto deadline = Clock::now() + wait;
  std::vector<SubmitSpec> specs;
  specs.push_back(std::move(spec.value()));
  auto out = co_await await_result<std::vector<SubmitOutcome>>(
      [&](auto cb) { s.broker.submit(std::move(specs), std::move(cb)); });
  if (!out) co_return error_response(out.status());
  SubmitOutcome& o = out->front();
  if (wait.count() > 0 && !is_terminal(o.job.record.state) && !s.draining) {
    auto waited = co_await wait_for_terminal(s, req, o.job.record.id, deadline);
    if (waited) o.job = std::move(waited.value());
  }
  if (wait.count() > 0) s.metrics.count_sync_wait(queue, is_terminal(o.job.record.state));
  co_return job_answer(o.job, o.replayed, wait);
}

Reply submit_batch(State& s, http::Request& req, const std::string& queue) {
  auto body = parse_json_body(req);
  if (!body) co_return error_response(body.status());
  const json::object* obj = body->if_object();
  const json::value* jobs = obj ? obj->if_contains("jobs") : nullptr;
  if (!jobs || !jobs->is_array()) {
    co_return error_response(invalid_argument("the body must be {\"jobs\": [<job>, ...]}"));
  }
  const json::array& arr = jobs->get_array();
  if (arr.size() > kMaxBatch) {
    co_return error_response(too_large("a batch holds at most " + std::to_string(kMaxBatch) +
                                       " jobs; this one has " + std::to_string(arr.size())));
  }
  if (arr.empty()) co_return error_response(invalid_argument("jobs must not be empty"));
  const Millis now = now_millis();
  const std::string traceparent = valid_traceparent(req);
  std::vector<SubmitSpec> specs;
  specs.reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string prefix = "jobs[" + std::to_string(i) + "].";
    if (!arr[i].is_object()) {
      co_return error_response(
          invalid_argument("jobs[" + std::to_string(i) + "] must be an object"));
    }
    auto spec = parse_submit(arr[i].get_object(), queue, now, prefix);
    if (!spec) co_return error_response(spec.status());
    spec->traceparent = traceparent;
    specs.push_back(std::move(spec.value()));
  }
  auto out = co_await await_result<std::vector<SubmitOutcome>>(
      [&](auto cb) { s.broker.submit(std::move(specs), std::move(cb)); });
  if (!out) co_return error_response(out.status());
  std::string resp = "{\"jobs\":[";
  for (std::size_t i = 0; i < out->size(); ++i) {
    const JobRecord& r = (*out)[i].job.record;
    if (i) resp += ',';
    resp += "{\"id\":\"" + r.id.to_string() + "\",\"state\":\"" + std::string(to_string(r.state)) +
            "\"}";
  }
  co_return json_response(202, resp + "]}");
}

Reply get_job(State& s, http::Request& req, const JobId& id) {
  const auto wait = requested_wait(s, req);
  // Two statements, not `wait ? co_await a : co_await b`: GCC 12 destroys the
  // result of a conditional expression with co_await twice (free(): invalid pointer).
  if (wait.count() == 0) {
    auto job = co_await await_result<JobView>([&](auto cb) { s.broker.get(id, std::move(cb)); });
    if (!job) co_return error_response(job.status());
    co_return json_response(200, job_document(*job));
  }
  auto job = co_await wait_for_terminal(s, req, id, Clock::now() + wait);
  if (!job) co_return error_response(job.status());
  auto r = json_response(200, job_document(*job));
  r.set("Preference-Applied", "wait=" + wait_value(wait));
  co_return r;
}

Reply cancel_job(State& s, const JobId& id) {
  auto job = co_await await_result<JobView>([&](auto cb) { s.broker.cancel(id, std::move(cb)); });
  if (!job) co_return error_response(job.status());
  co_return json_response(200, job_document(*job));
}

namespace {

bool is_terminal_event(std::string_view type) {
  return type == "succeeded" || type == "failed" || type == "cancelled" || type == "expired";
}

std::string sse_frame(const TimelineEvent& ev) {
  return "id: " + std::to_string(ev.seq) + "\nevent: " + ev.type + "\ndata: " + ev.json + "\n\n";
}

// Follows a job's timeline as Server-Sent Events until its terminal event,
// the server drains or the client of `req` goes away.
asio::awaitable<void> stream_events(State& s, const http::Request& req, JobId id,
                                    std::uint32_t last_seq, http::EventSink& sink) {
  const std::string topic = job_topic(id);
  for (;;) {
    auto signal = co_await Signal::make();
    const auto sub = s.broker.waiters().subscribe({&topic, 1}, [signal] { signal->fire(); });
    auto events = co_await await_result<std::vector<TimelineEvent>>(
        [&](auto cb) { s.broker.timeline(id, last_seq, std::move(cb)); });
    if (!events) break;
    bool ended = false;
    for (const auto& ev : *events) {
      if (!co_await sink.write(sse_frame(ev))) ended = true;
      last_seq = ev.seq;
      if (is_terminal_event(ev.type)) ended = true;
      if (ended) break;
    }
    if (!ended && events->empty()) {
      // Nothing new: a job already finished (its terminal event sent before
      // this connection's Last-Event-ID) has nothing more to say.
      auto job = co_await await_result<JobView>([&](auto cb) { s.broker.get(id, std::move(cb)); });
      ended = !job || is_terminal(job->record.state);
    }
    if (ended || s.draining || req.client_gone()) {
      s.broker.waiters().unsubscribe(sub);
      break;
    }
    req.on_client_gone([signal] { signal->fire(); });
    if (!co_await signal->wait(Clock::now() + s.options.sse_keepalive)) {
      if (!co_await sink.write(": keep-alive\n\n")) ended = true;
    }
    s.broker.waiters().unsubscribe(sub);
    if (ended || req.client_gone()) break;
  }
}

}  // namespace

Reply job_events(State& s, http::Request& req, const JobId& id) {
  const auto accept = req.header("accept").value_or("");
  const bool sse = accept.find("text/event-stream") != std::string_view::npos;
  std::uint32_t last_seq = 0;
  if (auto last = req.header("last-event-id")) {
    try {
      last_seq = static_cast<std::uint32_t>(std::stoul(std::string(*last)));
    } catch (const std::exception&) {
      last_seq = 0;  // an id we never sent: replay from the start
    }
  }
  auto first = co_await await_result<JobView>([&](auto cb) { s.broker.get(id, std::move(cb)); });
  if (!first) co_return error_response(first.status());
  if (!sse) {
    auto events = co_await await_result<std::vector<TimelineEvent>>(
        [&](auto cb) { s.broker.timeline(id, 0, std::move(cb)); });
    if (!events) co_return error_response(events.status());
    std::string body = "{\"events\":[";
    for (std::size_t i = 0; i < events->size(); ++i) {
      if (i) body += ',';
      body += (*events)[i].json;
    }
    co_return json_response(200, body + "]}");
  }
  http::Response r;
  r.set("Content-Type", "text/event-stream");
  r.set("Cache-Control", "no-cache");
  // `req` outlives the stream (see http/message.hpp).
  r.stream = [&s, &req, id, last_seq](http::EventSink& sink) -> asio::awaitable<void> {
    const metrics::GaugeScope open_stream(s.metrics.sse_streams());
    co_await stream_events(s, req, id, last_seq, sink);
  };
  co_return r;
}

}  // namespace errand::api
