// errand::Client: each call is one HTTP exchange through CurlTransport (or,
// for follow(), a resumable event stream).
#include "errand/client.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <thread>

#include "client/curl_transport.hpp"
#include "client/json_mapping.hpp"
#include "client/sse_parser.hpp"
#include "client/url.hpp"

namespace errand {
namespace json = boost::json;

namespace {

// The server sends a keep-alive comment every 15 s on an idle event stream;
// three missed ones mean the connection is dead even if TCP has not noticed.
constexpr std::chrono::seconds kStreamSilenceLimit{45};
constexpr std::chrono::milliseconds kFollowBackoffInitial{200};
constexpr std::chrono::milliseconds kFollowBackoffMax{5000};

bool is_terminal_event(std::string_view type) {
  return type == "succeeded" || type == "failed" || type == "cancelled" || type == "expired";
}

void require_name(std::string_view value, std::string_view what) {
  if (value.empty()) throw Error(Error::Kind::kUsage, 0, "the " + std::string(what) + " is empty");
}

std::string job_target(std::string_view id, std::string_view tail = {}) {
  return "/v1/jobs/" + client_detail::percent_encode(id) + std::string(tail);
}

std::string flow_target(std::string_view id, std::string_view tail = {}) {
  return "/v1/flows/" + client_detail::percent_encode(id) + std::string(tail);
}

std::string checked_base_url(const std::string& server) {
  const std::string base = client_detail::trim_base_url(server);
  if (!base.starts_with("http://") && !base.starts_with("https://")) {
    throw Error(Error::Kind::kUsage, 0,
                "the server URL must start with http:// or https://, not '" + server + "'");
  }
  return base;
}

}  // namespace

struct Client::Impl {
  struct Answer {
    json::value doc;
    std::string body;
  };

  ClientOptions options;
  client_detail::CurlTransport transport;

  explicit Impl(ClientOptions o)
      : options(std::move(o)),
        transport(checked_base_url(options.server), options.connect_timeout, options.stop,
                  options.ca_file) {}

  [[nodiscard]] std::string context(const client_detail::HttpRequest& r) const {
    return "errand at " + transport.base_url() + " (" + r.method + " " + r.target + ")";
  }

  client_detail::HttpResponse exchange(client_detail::HttpRequest r) {
    if (!options.token.empty()) r.headers.push_back("Authorization: Bearer " + options.token);
    return transport.perform(r);
  }

  [[noreturn]] static void throw_http_error(const client_detail::HttpResponse& resp) {
    throw Error(Error::Kind::kHttp, resp.status,
                client_detail::problem_message(resp.status, resp.reason, resp.body), resp.body);
  }

  // One exchange whose 2xx answer is a JSON document; `wait` adds a
  // `Prefer: wait` and stretches the timeout by as much.
  Answer call(std::string method, std::string target, std::string body = {},
              std::optional<double> wait = std::nullopt, std::vector<std::string> headers = {}) {
    client_detail::HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers = std::move(headers);
    r.timeout = options.request_timeout;
    if (wait) {
      r.headers.push_back("Prefer: wait=" + client_detail::wait_value(*wait));
      r.timeout += client_detail::wait_duration(*wait);
    }
    const std::string where = context(r);
    client_detail::HttpResponse resp = exchange(std::move(r));
    if (resp.status < 200 || resp.status >= 300) throw_http_error(resp);
    Answer a;
    a.body = std::move(resp.body);
    a.doc = a.body.empty() ? json::value(nullptr) : client_detail::parse_answer(a.body, where);
    return a;
  }

  // call() whose answer must be an object: a job or a flow, `what` says which.
  Answer object_call(std::string_view what, std::string method, std::string target,
                     std::string body, std::optional<double> wait,
                     std::vector<std::string> headers) {
    Answer a =
        call(std::move(method), std::move(target), std::move(body), wait, std::move(headers));
    if (!a.doc.is_object()) {
      throw Error(Error::Kind::kProtocol, 0,
                  "errand at " + transport.base_url() + " answered without " + std::string(what),
                  a.body);
    }
    return a;
  }

  Job job_call(std::string method, std::string target, std::string body = {},
               std::optional<double> wait = std::nullopt, std::vector<std::string> headers = {}) {
    Answer a = object_call("a job", std::move(method), std::move(target), std::move(body), wait,
                           std::move(headers));
    return client_detail::job_from(a.doc, std::move(a.body));
  }

  Flow flow_call(std::string method, std::string target, std::string body = {},
                 std::optional<double> wait = std::nullopt, std::vector<std::string> headers = {}) {
    Answer a = object_call("a flow", std::move(method), std::move(target), std::move(body), wait,
                           std::move(headers));
    return client_detail::flow_from(a.doc, std::move(a.body));
  }

  std::vector<Event> event_list(std::string target) {
    auto a = call("GET", std::move(target));
    std::vector<Event> out;
    if (const json::array* arr =
            client_detail::member(a.doc, "events", "errand's events answer").if_array()) {
      for (const auto& e : *arr) out.push_back(client_detail::event_from(e, json::serialize(e)));
    }
    return out;
  }

  // Sleeps `d` in slices short enough to notice the stop flag.
  void pause(std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      if (options.stop && options.stop->load()) {
        throw Error(Error::Kind::kStopped, 0, "stopped while waiting to reconnect");
      }
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          client_detail::kStopPollInterval, until - std::chrono::steady_clock::now()));
    }
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const ClientOptions& Client::options() const { return impl_->options; }

Job Client::submit(std::string_view queue, std::string_view payload, const SubmitOptions& options) {
  require_name(queue, "queue name");
  client_detail::require_json(payload, "payload");
  std::vector<std::string> headers;
  if (options.traceparent) headers.push_back("traceparent: " + *options.traceparent);
  return impl_->job_call("POST", "/v1/queues/" + client_detail::percent_encode(queue) + "/jobs",
                         client_detail::submit_body(payload, options), options.wait_seconds,
                         std::move(headers));
}

std::vector<BatchEntry> Client::submit_batch(std::string_view queue,
                                             const std::vector<BatchJob>& jobs) {
  require_name(queue, "queue name");
  if (jobs.empty()) return {};
  std::string body = "{\"jobs\":[";
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    client_detail::require_json(jobs[i].payload, "payload of jobs[" + std::to_string(i) + "]");
    if (i) body += ',';
    body += client_detail::submit_body(jobs[i].payload, jobs[i].options);
  }
  body += "]}";
  auto a = impl_->call("POST", "/v1/queues/" + client_detail::percent_encode(queue) + "/batch",
                       std::move(body));
  const json::value& list = client_detail::member(a.doc, "jobs", "errand's batch answer");
  std::vector<BatchEntry> out;
  if (const json::array* arr = list.if_array()) {
    for (const auto& e : *arr) {
      Job j = client_detail::job_from(e, {});
      out.push_back({std::move(j.id), std::move(j.state)});
    }
  }
  return out;
}

Job Client::get(std::string_view id, std::optional<double> wait_seconds) {
  require_name(id, "job id");
  return impl_->job_call("GET", job_target(id), {}, wait_seconds);
}

std::vector<Event> Client::events(std::string_view id) {
  require_name(id, "job id");
  return impl_->event_list(job_target(id, "/events"));
}

std::int64_t Client::follow(std::string_view id, const std::function<bool(const Event&)>& on_event,
                            std::int64_t after_seq, std::chrono::milliseconds give_up_after) {
  require_name(id, "job id");
  std::int64_t last = after_seq;
  auto backoff = kFollowBackoffInitial;
  // Since when the stream keeps failing; max(): it is not failing. (Not an
  // optional: GCC 12 at -O1 warns that it "may be used uninitialized".)
  constexpr auto kNotFailing = std::chrono::steady_clock::time_point::max();
  auto failing_since = kNotFailing;
  for (;;) {
    bool done = false;  // the terminal event was delivered or on_event said stop
    int delivered = 0;
    std::exception_ptr caller_error;  // from on_event: never retried, never wrapped
    client_detail::SseParser parser;
    const auto deliver = [&](const client_detail::SseEvent& sse) {
      const json::value doc = client_detail::parse_answer(sse.data, "errand's event stream");
      Event ev = client_detail::event_from(doc, sse.data);
      if (ev.type.empty()) ev.type = sse.type;
      if (ev.seq == 0 && !sse.id.empty()) ev.seq = std::strtoll(sse.id.c_str(), nullptr, 10);
      if (ev.seq <= last) return true;  // already delivered before a reconnect
      last = ev.seq;
      ++delivered;
      // Ending the transfer after the terminal event does not rely on the
      // server closing the stream.
      bool go_on = false;
      try {
        go_on = on_event(ev);
      } catch (...) {
        caller_error = std::current_exception();
        return false;
      }
      if (!go_on || is_terminal_event(ev.type)) {
        done = true;
        return false;
      }
      return true;
    };
    client_detail::HttpRequest r;
    r.method = "GET";
    r.target = job_target(id, "/events");
    r.headers.push_back("Accept: text/event-stream");
    if (last > 0) r.headers.push_back("Last-Event-ID: " + std::to_string(last));
    r.silence_limit = kStreamSilenceLimit;
    r.on_data = [&](std::string_view chunk) { return parser.feed(chunk, deliver); };
    try {
      client_detail::HttpResponse resp = impl_->exchange(std::move(r));
      if (caller_error) std::rethrow_exception(caller_error);
      if (done) return last;
      if (resp.status < 200 || resp.status >= 300) Impl::throw_http_error(resp);
      if (!resp.content_type.starts_with("text/event-stream")) {
        throw Error(Error::Kind::kProtocol, 0,
                    "errand at " + impl_->transport.base_url() +
                        " answered an event stream request with " +
                        (resp.content_type.empty() ? "no content type" : resp.content_type));
      }
      failing_since = kNotFailing;
      // A stream that ends without news: either the job finished before
      // `last` (nothing more will come) or the server is going away.
      if (delivered == 0 && get(id).terminal()) return last;
    } catch (const Error& e) {
      if (!e.retryable()) throw;
      const auto now = std::chrono::steady_clock::now();
      if (failing_since == kNotFailing) failing_since = now;
      if (now - failing_since >= give_up_after) throw;
    }
    if (delivered > 0) backoff = kFollowBackoffInitial;
    impl_->pause(backoff);
    backoff = std::min(backoff * 2, kFollowBackoffMax);
  }
}

Job Client::cancel(std::string_view id) {
  require_name(id, "job id");
  return impl_->job_call("POST", job_target(id, "/cancel"));
}

Flow Client::submit_flow(std::string_view flow, const FlowSubmitOptions& options) {
  client_detail::require_json(flow, "flow");
  std::vector<std::string> headers;
  if (options.traceparent) headers.push_back("traceparent: " + *options.traceparent);
  return impl_->flow_call("POST", "/v1/flows", std::string(flow), options.wait_seconds,
                          std::move(headers));
}

Flow Client::get_flow(std::string_view id, std::optional<double> wait_seconds) {
  require_name(id, "flow id");
  return impl_->flow_call("GET", flow_target(id), {}, wait_seconds);
}

Flow Client::cancel_flow(std::string_view id) {
  require_name(id, "flow id");
  return impl_->flow_call("POST", flow_target(id, "/cancel"));
}

std::vector<Event> Client::flow_events(std::string_view id) {
  require_name(id, "flow id");
  return impl_->event_list(flow_target(id, "/events"));
}

Job Client::retry(std::string_view id) {
  require_name(id, "job id");
  return impl_->job_call("POST", job_target(id, "/retry"));
}

JobPage Client::jobs(const JobFilter& filter) {
  std::string query;
  const auto add = [&](std::string_view key, const std::string& value) {
    query += query.empty() ? '?' : '&';
    query += key;
    query += '=';
    query += client_detail::percent_encode(value);
  };
  if (filter.queue) add("queue", *filter.queue);
  if (filter.state) add("state", *filter.state);
  if (filter.limit) add("limit", std::to_string(*filter.limit));
  if (filter.cursor) add("cursor", *filter.cursor);
  auto a = impl_->call("GET", "/v1/jobs" + query);
  JobPage page;
  if (const json::array* arr =
          client_detail::member(a.doc, "jobs", "errand's job list").if_array()) {
    for (const auto& e : *arr) page.jobs.push_back(client_detail::job_from(e, json::serialize(e)));
  }
  if (const json::value* next = a.doc.get_object().if_contains("next"); next && next->is_string()) {
    page.next = std::string(next->get_string());
  }
  return page;
}

std::vector<Queue> Client::queues() {
  auto a = impl_->call("GET", "/v1/queues");
  std::vector<Queue> out;
  if (const json::array* arr =
          client_detail::member(a.doc, "queues", "errand's queue list").if_array()) {
    for (const auto& e : *arr) out.push_back(client_detail::queue_from(e));
  }
  return out;
}

std::vector<LeasedJob> Client::lease(const LeaseRequest& request) {
  if (request.queues.empty())
    throw Error(Error::Kind::kUsage, 0, "a lease needs at least one queue");
  auto a =
      impl_->call("POST", "/v1/leases", client_detail::lease_body(request), request.wait_seconds);
  std::vector<LeasedJob> out;
  if (const json::array* arr =
          client_detail::member(a.doc, "jobs", "errand's lease answer").if_array()) {
    for (const auto& e : *arr) out.push_back(client_detail::leased_job_from(e));
  }
  return out;
}

void Client::ack(std::string_view id, std::string_view lease, std::string_view result) {
  require_name(id, "job id");
  client_detail::require_json(result, "result");
  impl_->call(
      "POST", job_target(id, "/ack"),
      "{\"lease\":" + client_detail::quoted(lease) + ",\"result\":" + std::string(result) + "}");
}

std::vector<AckOutcome> Client::ack_many(const std::vector<Ack>& acks) {
  if (acks.empty()) return {};
  std::string body = "{\"acks\":[";
  for (std::size_t i = 0; i < acks.size(); ++i) {
    client_detail::require_json(acks[i].result, "result of acks[" + std::to_string(i) + "]");
    if (i) body += ',';
    body += "{\"id\":" + client_detail::quoted(acks[i].id) +
            ",\"lease\":" + client_detail::quoted(acks[i].lease) + ",\"result\":" + acks[i].result +
            "}";
  }
  body += "]}";
  auto a = impl_->call("POST", "/v1/acks", std::move(body));
  std::vector<AckOutcome> out;
  const json::value& results = client_detail::member(a.doc, "results", "errand's acks answer");
  if (const json::array* arr = results.if_array()) {
    for (const auto& e : *arr) {
      const json::object* o = e.if_object();
      if (!o) continue;
      AckOutcome r;
      if (auto* v = o->if_contains("id"); v && v->is_string()) r.id = v->get_string();
      if (auto* v = o->if_contains("ok"); v && v->is_bool()) r.ok = v->get_bool();
      if (auto* v = o->if_contains("status"); v && v->is_int64()) {
        r.status = static_cast<int>(v->get_int64());
      }
      if (auto* v = o->if_contains("detail"); v && v->is_string()) r.detail = v->get_string();
      out.push_back(std::move(r));
    }
  }
  return out;
}

FailOutcome Client::fail(std::string_view id, std::string_view lease, const FailRequest& failure) {
  require_name(id, "job id");
  auto a = impl_->call("POST", job_target(id, "/fail"), client_detail::fail_body(lease, failure));
  FailOutcome out;
  out.state = client_detail::job_from(a.doc, {}).state;
  if (const json::object* o = a.doc.if_object()) {
    if (auto* v = o->if_contains("run_at"); v && v->is_string()) out.run_at = v->get_string();
  }
  return out;
}

HeartbeatOutcome Client::heartbeat(std::string_view id, std::string_view lease,
                                   const std::optional<Progress>& progress,
                                   std::optional<std::int64_t> lease_ms) {
  require_name(id, "job id");
  if (progress && progress->data) client_detail::require_json(*progress->data, "progress data");
  auto a = impl_->call("POST", job_target(id, "/heartbeat"),
                       client_detail::heartbeat_body(lease, progress, lease_ms));
  HeartbeatOutcome out;
  if (const json::object* o = a.doc.if_object()) {
    if (auto* v = o->if_contains("lease_expires_at"); v && v->is_string()) {
      out.lease_expires_at = v->get_string();
    }
    if (auto* v = o->if_contains("cancel_requested"); v && v->is_bool()) {
      out.cancel_requested = v->get_bool();
    }
  }
  return out;
}

}  // namespace errand
