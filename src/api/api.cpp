// Routing: which handler answers which method and path (SPEC §3).
#include "api/api.hpp"

#include <boost/url/decode_view.hpp>

#include <vector>

#include "api/access.hpp"
#include "api/cors.hpp"
#include "api/documents.hpp"
#include "api/handlers.hpp"
#include "api/http/problem.hpp"
#include "api/web_handlers.hpp"
#include "core/prefer.hpp"
#include "core/queue_name.hpp"
#include "core/trace_context.hpp"
#include "engine/waiter_registry.hpp"
#include "logging/log.hpp"
#include "metrics/server_metrics.hpp"

namespace errand::api {
namespace {

// Splits "/v1/jobs/abc" into percent-decoded segments {"v1","jobs","abc"}.
std::optional<std::vector<std::string>> split_path(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    const std::string_view seg = path.substr(0, slash);
    try {
      boost::urls::decode_view decoded(seg);
      out.emplace_back(decoded.begin(), decoded.end());
    } catch (const std::exception&) {
      return std::nullopt;  // a malformed %-escape
    }
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (out.size() > 1 && out.back().empty()) out.pop_back();  // tolerate a trailing slash
  return out;
}

http::Response method_not_allowed(std::string allow) {
  auto r = http::problem(405, "this path accepts " + allow);
  r.set("Allow", std::move(allow));
  return r;
}

http::Response no_such_resource(const http::Request& req) {
  return http::problem(404, "no such resource: " + std::string(req.path()));
}

// A 503 when new work is refused now (the memory guard), counted under `queue`.
std::optional<http::Response> refusal_of_new_work(State& s, std::string_view queue) {
  if (!s.options.refuse_new_work) return std::nullopt;
  auto why = s.options.refuse_new_work();
  if (!why) return std::nullopt;
  s.metrics.count_submit_refused(queue, "memory");
  return error_response(unavailable(std::move(*why)));
}

// An answer known without awaiting anything, as a Reply.
Reply answer(http::Response response) { co_return response; }

// The submit of one job or a batch; a refusal for a full queue is counted.
Reply submit_counted(State& s, http::Request& req, const std::string& q, bool batch) {
  if (auto refused = refusal_of_new_work(s, q)) co_return std::move(*refused);
  // Not a conditional expression: GCC 12 miscompiles co_await inside ?:.
  http::Response r;
  if (batch) {
    r = co_await submit_batch(s, req, q);
  } else {
    r = co_await submit_job(s, req, q);
  }
  if (r.status == 429) s.metrics.count_submit_refused(q, "queue_full");
  co_return r;
}

// The dispatchers below pick the handler for a request and return it
// unstarted; it runs when route() awaits it. They are not coroutines on
// purpose: a coroutine's frame keeps room for the temporaries of every
// co_await in it, and a waiting request keeps its frames for as long as it
// waits (thousands at once: docs/benchmarks.md, W4). What a handler gets
// must outlive it: `s`, `req` and `p` do (route() holds them until the
// handler is done); anything made here is passed by value.

// /v1/flows, /v1/flows/{id}, /v1/flows/{id}/{events|cancel}
Reply dispatch_flows(State& s, http::Request& req, const std::vector<std::string>& p) {
  const std::string& m = req.method;
  if (p.size() == 2) {
    if (m == "POST") {
      if (auto refused = refusal_of_new_work(s, "(flows)")) return answer(std::move(*refused));
      return submit_flow(s, req);
    }
    if (m == "GET") return list_flows(s, req);
    return answer(method_not_allowed("GET, POST"));
  }
  const std::string action = p.size() == 4 ? p[3] : "";
  if (!action.empty() && action != "events" && action != "cancel") {
    return answer(no_such_resource(req));
  }
  const std::string allowed = action == "cancel" ? "POST" : "GET";
  if (m != allowed) return answer(method_not_allowed(allowed));
  auto id = parse_flow_id(p[2]);
  if (!id) return answer(error_response(id.status()));
  if (action.empty()) return get_flow(s, req, *id);
  if (action == "events") return flow_events(s, req, *id);
  return cancel_flow(s, *id);
}

// /v1/queues, /v1/queues/{q}, /v1/queues/{q}/{jobs|batch|pause|resume}
Reply dispatch_queues(State& s, http::Request& req, const std::vector<std::string>& p) {
  const std::string& m = req.method;
  const std::size_t n = p.size();
  if (n == 2) {
    if (m != "GET") return answer(method_not_allowed("GET"));
    return list_queues(s);
  }
  const std::string& q = p[2];
  if (n > 4) return answer(no_such_resource(req));
  const std::string action = n == 4 ? p[3] : "";
  if (action != "" && action != "jobs" && action != "batch" && action != "pause" &&
      action != "resume") {
    return answer(no_such_resource(req));
  }
  const std::string allowed = action.empty() ? "GET, PUT" : "POST";
  const bool method_ok = action.empty() ? m == "GET" || m == "PUT" : m == "POST";
  if (!method_ok) return answer(method_not_allowed(allowed));
  if (!is_valid_queue_name(q)) return answer(error_response(invalid_queue_name(q)));
  if (action.empty() && m == "PUT") return configure_queue(s, req, q);
  if (action.empty()) return get_queue(s, q);
  if (action == "jobs" || action == "batch") return submit_counted(s, req, q, action == "batch");
  return pause_queue(s, q, action == "pause");
}

// /v1/jobs, /v1/jobs/{id}, /v1/jobs/{id}/{action}
Reply dispatch_jobs(State& s, http::Request& req, const std::vector<std::string>& p) {
  const std::string& m = req.method;
  const std::size_t n = p.size();
  if (n == 2) {
    if (m != "GET") return answer(method_not_allowed("GET"));
    return list_jobs(s, req);
  }
  const std::string action = n == 4 ? p[3] : "";
  static const char* const kPostActions[] = {"cancel", "retry", "ack", "fail", "heartbeat"};
  bool is_post_action = false;
  for (const char* a : kPostActions) is_post_action = is_post_action || action == a;
  if (!action.empty() && action != "events" && !is_post_action) {
    return answer(no_such_resource(req));
  }
  const std::string allowed = action.empty() ? "GET, DELETE" : action == "events" ? "GET" : "POST";
  if (m != "POST" && m != "GET" && m != "DELETE") return answer(method_not_allowed(allowed));
  if (allowed.find(m) == std::string::npos) return answer(method_not_allowed(allowed));
  auto id = parse_job_id(p[2]);
  if (!id) return answer(error_response(id.status()));
  if (action.empty()) {
    if (m == "DELETE") return delete_job(s, *id);
    return get_job(s, req, *id);
  }
  if (action == "events") return job_events(s, req, *id);
  if (action == "cancel") return cancel_job(s, *id);
  if (action == "retry") return retry_job(s, *id);
  if (action == "ack") return ack_job(s, req, *id);
  if (action == "fail") return fail_job(s, req, *id);
  return heartbeat_job(s, req, *id);
}

// Every path; the access check has passed (or the path needs none).
Reply dispatch(State& s, http::Request& req, const std::vector<std::string>& p) {
  const std::string& m = req.method;
  const std::size_t n = p.size();
  if (n == 1 && p[0] == "healthz") {
    if (m != "GET" && m != "HEAD") return answer(method_not_allowed("GET"));
    return answer(json_response(200, R"({"status":"ok"})"));
  }
  if (n == 1 && p[0] == "readyz") {
    if (m != "GET" && m != "HEAD") return answer(method_not_allowed("GET"));
    return readiness(s);
  }
  if (n == 1 && p[0] == "metrics") {
    if (m != "GET" && m != "HEAD") return answer(method_not_allowed("GET"));
    return metrics_page(s);
  }
  if (auto page = dashboard(req, p)) return answer(std::move(*page));  // GET / and /ui/...
  if (n < 2 || p[0] != "v1") return answer(no_such_resource(req));
  if (p[1] == "queues") return dispatch_queues(s, req, p);
  if (p[1] == "events" && n == 2) {
    if (m != "GET") return answer(method_not_allowed("GET"));
    return server_events(s, req);
  }
  if (p[1] == "alerts" && n == 2) {
    if (m != "GET") return answer(method_not_allowed("GET"));
    return answer(json_response(
        200, s.options.alerts_document ? s.options.alerts_document() : R"({"alerts":[]})"));
  }
  if (p[1] == "leases" && n == 2) {
    if (m != "POST") return answer(method_not_allowed("POST"));
    return lease_jobs(s, req);
  }
  if (p[1] == "acks" && n == 2) {
    if (m != "POST") return answer(method_not_allowed("POST"));
    return ack_batch(s, req);
  }
  if (p[1] == "flows" && n <= 4) return dispatch_flows(s, req, p);
  if (p[1] == "jobs" && n <= 4) return dispatch_jobs(s, req, p);
  return answer(no_such_resource(req));
}

// Health and readiness answer without credentials (load balancers, probes).
bool needs_no_access(const std::vector<std::string>& p) {
  return p.size() == 1 && (p[0] == "healthz" || p[0] == "readyz");
}

}  // namespace

Api::Api(Broker& broker, metrics::ServerMetrics& metrics, ApiOptions options)
    // Braces, not make_unique: clang before 16 (the fuzz preset) lacks C++20's
    // parenthesised aggregate initialisation.
    : state_(new State{broker, metrics, std::move(options)}) {}
Api::~Api() = default;

void Api::begin_drain() {
  state_->draining = true;
  state_->broker.waiters().notify_everyone();
}

asio::awaitable<http::Response> Api::handle(http::Request& req) {
  const auto& origins = state_->options.cors_origins;
  const auto origin = req.header("origin");
  const bool cors = origin && !origins.empty() && cors_allows(origins, *origin);
  if (req.method == "OPTIONS" && !origins.empty() && req.header("access-control-request-method")) {
    if (!cors) {
      co_return http::problem(403, "origin '" + std::string(origin.value_or("")) +
                                       "' may not use this server (see --cors-origin)");
    }
    co_return cors_preflight(*origin);
  }
  http::Response response = co_await route(*state_, req);
  if (cors) add_cors_headers(response, *origin);
  co_return response;
}

Reply route(State& s, http::Request& req) {
  const auto segments = split_path(req.path());
  if (!segments) co_return http::problem(400, "the request path is malformed");
  if (!needs_no_access(*segments)) {
    std::optional<http::Response> denied = co_await check_access(s, req, *segments);
    if (denied) co_return std::move(*denied);
  }
  co_return co_await dispatch(s, req, *segments);
}

// ---- helpers shared by the handler files ----

http::Response json_response(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.set("Content-Type", "application/json");
  return r;
}

http::Response error_response(const Status& st) {
  int status = 500;
  switch (st.code()) {
    case Code::kOk:
      status = 200;
      break;
    case Code::kInvalidArgument:
      status = 400;
      break;
    case Code::kNotFound:
      status = 404;
      break;
    case Code::kConflict:
      status = 409;
      break;
    case Code::kTooLarge:
      status = 413;
      break;
    case Code::kUnsupportedMediaType:
      status = 415;
      break;
    case Code::kResourceExhausted:
      status = 429;
      break;
    case Code::kUnavailable:
      status = 503;
      break;
    case Code::kInsufficientStorage:
      status = 507;
      break;
    case Code::kInternal:
      status = 500;
      break;
  }
  // A 500 is the server's own trouble: say it where operators look. (A 507
  // is too, but the store logs a disk failure once, not once per request.)
  if (status == 500) {
    log::error("request failed", {{"status", status}, {"reason", st.message()}});
  }
  auto r = http::problem(status, st.message());
  if (status == 429 || status == 503 || status == 507) r.set("Retry-After", "1");
  return r;
}

std::chrono::milliseconds requested_wait(const State& s, const http::Request& req) {
  const auto prefer = req.header("prefer");
  if (!prefer) return std::chrono::milliseconds(0);
  const auto ms = parse_prefer_wait_ms(*prefer);
  if (!ms) return std::chrono::milliseconds(0);
  return std::min(std::chrono::milliseconds(*ms), s.options.max_wait);
}

Result<JobId> parse_job_id(std::string_view text) {
  auto id = JobId::parse(text);
  if (!id) return not_found("no job " + std::string(text) + " (job ids are UUIDs)");
  return *id;
}

asio::awaitable<Result<JobView>> wait_for_terminal(State& s, const http::Request& req,
                                                   const JobId& id, Clock::time_point deadline,
                                                   const std::string* payload) {
  return read_until<JobView>(
      s, req, job_topic(id),
      [&s, id, payload](auto cb) {
        // The job as the commit that ended it left it, when that was here.
        if (auto ended = s.broker.ended_view(id)) {
          if (ended->payload_json.empty() && payload != nullptr) ended->payload_json = *payload;
          if (!ended->payload_json.empty()) return cb(std::move(*ended));
        }
        s.broker.get(id, std::move(cb));
      },
      [](const JobView& job) { return is_terminal(job.record.state); }, deadline,
      [&s, id] { return s.broker.known_unfinished(id); });
}

std::string wait_value(std::chrono::milliseconds wait) {
  if (wait.count() % 1000 == 0) return std::to_string(wait.count() / 1000);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(wait.count()) / 1000.0);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  return s;
}

std::string valid_traceparent(const http::Request& req) {
  auto tp = req.header("traceparent");
  if (!tp || !parse_traceparent(*tp)) return {};
  return std::string(*tp);
}

Status take_idempotency_header(const http::Request& req, std::string& key) {
  auto header = req.header("idempotency-key");
  if (!header) return Status::ok();
  if (header->empty() || header->size() > 256) {
    return invalid_argument("Idempotency-Key must be 1 to 256 bytes");
  }
  if (!key.empty() && key != *header) {
    return invalid_argument("the Idempotency-Key header and the idempotency_key field differ");
  }
  key = std::string(*header);
  return Status::ok();
}

http::Response document_answer(std::string document, std::chrono::milliseconds waited) {
  auto r = json_response(200, std::move(document));
  if (waited.count() > 0) r.set("Preference-Applied", "wait=" + wait_value(waited));
  return r;
}

http::Response submit_answer(bool finished, std::string document, const std::string& location,
                             bool replayed, std::chrono::milliseconds waited) {
  auto r = document_answer(std::move(document), waited);
  if (!finished) {
    r.status = 202;
    r.set("Location", location);
    r.set("Retry-After", "1");
  }
  if (replayed) r.set("Idempotent-Replayed", "true");
  return r;
}

}  // namespace errand::api
