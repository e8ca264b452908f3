// GET /v1/jobs/{id}/events and GET /v1/flows/{id}/events: a timeline as JSON
// or as Server-Sent Events that follow it live (SPEC §3).
#include "api/handlers.hpp"

namespace errand::api {
namespace {

// Jobs end in succeeded, failed, cancelled or expired; flows in the first three.
bool is_terminal_event(std::string_view type) {
  return type == "succeeded" || type == "failed" || type == "cancelled" || type == "expired";
}

std::string sse_frame(const TimelineEvent& ev) {
  return "id: " + std::to_string(ev.seq) + "\nevent: " + ev.type + "\ndata: " + ev.json + "\n\n";
}

// Follows a timeline as Server-Sent Events until its terminal event, the
// server drains or the client of `req` goes away.
asio::awaitable<void> stream_events(State& s, const http::Request& req,
                                    const TimelineSource& source, std::uint32_t last_seq,
                                    http::EventSink& sink) {
  for (;;) {
    auto signal = co_await Signal::make();
    const auto sub = s.broker.waiters().subscribe({&source.topic, 1}, [signal] { signal->fire(); });
    auto events = co_await await_result<std::vector<TimelineEvent>>(
        [&](auto cb) { source.read(last_seq, std::move(cb)); });
    if (!events) break;
    bool ended = false;
    for (const auto& ev : *events) {
      if (!co_await sink.write(sse_frame(ev))) ended = true;
      last_seq = ev.seq;
      if (is_terminal_event(ev.type)) ended = true;
      if (ended) break;
    }
    if (!ended && events->empty()) {
      // Nothing new: a subject already finished (its terminal event sent
      // before this connection's Last-Event-ID) has nothing more to say.
      auto finished = co_await await_result<bool>([&](auto cb) { source.finished(std::move(cb)); });
      ended = !finished || *finished;
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

Reply timeline_events(State& s, http::Request& req, TimelineSource source) {
  auto exists = co_await await_result<bool>([&](auto cb) { source.finished(std::move(cb)); });
  if (!exists) co_return error_response(exists.status());
  const auto accept = req.header("accept").value_or("");
  const bool sse = accept.find("text/event-stream") != std::string_view::npos;
  if (!sse) {
    auto events = co_await await_result<std::vector<TimelineEvent>>(
        [&](auto cb) { source.read(0, std::move(cb)); });
    if (!events) co_return error_response(events.status());
    std::string body = "{\"events\":[";
    for (std::size_t i = 0; i < events->size(); ++i) {
      if (i) body += ',';
      body += (*events)[i].json;
    }
    co_return json_response(200, body + "]}");
  }
  std::uint32_t last_seq = 0;
  if (auto last = req.header("last-event-id")) {
    try {
      last_seq = static_cast<std::uint32_t>(std::stoul(std::string(*last)));
    } catch (const std::exception&) {
      last_seq = 0;  // an id we never sent: replay from the start
    }
  }
  http::Response r;
  r.set("Content-Type", "text/event-stream");
  r.set("Cache-Control", "no-cache");
  // `req` outlives the stream (see http/message.hpp).
  r.stream = [&s, &req, source = std::move(source),
              last_seq](http::EventSink& sink) -> asio::awaitable<void> {
    const metrics::GaugeScope open_stream(s.metrics.sse_streams());
    co_await stream_events(s, req, source, last_seq, sink);
  };
  co_return r;
}

}  // namespace errand::api
