// Workers: lease (long poll), ack, fail, heartbeat, batch acks.
#include <boost/json/serialize.hpp>

#include "api/documents.hpp"
#include "api/handlers.hpp"
#include "api/json_body.hpp"
#include "core/queue_name.hpp"
#include "engine/waiter_registry.hpp"

namespace errand::api {
namespace {

constexpr std::int64_t kMaxLeaseMs = 24LL * 3600 * 1000;
constexpr std::size_t kMaxLeaseQueues = 100;
constexpr std::int64_t kMaxLeaseBatch = 1000;

// A whole percent stays an integer in the stored JSON (50, not Boost.JSON's 5E1).
json::value percent_value(std::optional<double> percent) {
  if (!percent) return nullptr;
  const auto whole = static_cast<std::int64_t>(*percent);
  if (static_cast<double>(whole) == *percent) return whole;
  return *percent;
}

// The object body of a worker call, or an error response.
Result<json::value> object_body(const http::Request& req) {
  auto body = parse_json_body(req);
  if (!body) return body.status();
  if (!body->is_object()) return invalid_argument("the body must be a JSON object");
  return body;
}

Result<std::string> result_of(Fields& f, const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  std::string text = v ? json::serialize(*v) : "null";
  if (text.size() > kMaxPayloadBytes) {
    return too_large(f.name(name) + " is " + std::to_string(text.size()) + " bytes; the limit is " +
                     std::to_string(kMaxPayloadBytes));
  }
  return text;
}

Result<LeaseSpec> parse_lease(const json::object& o, const http::Request& req) {
  Fields f(o);
  f.only({"queues", "worker", "max", "lease_ms"});
  LeaseSpec spec;
  const json::array* queues = f.array("queues");
  if (!f.status().is_ok()) return f.status();
  if (!queues || queues->empty())
    return invalid_argument("queues must be a non-empty array of queue names");
  if (queues->size() > kMaxLeaseQueues) {
    return invalid_argument("queues may name at most " + std::to_string(kMaxLeaseQueues) +
                            " queues");
  }
  for (const auto& q : *queues) {
    if (!q.is_string() || !is_valid_queue_name(q.get_string())) {
      return invalid_argument("queues must hold valid queue names; " + json::serialize(q) +
                              " is not one");
    }
    spec.queues.emplace_back(q.get_string());
  }
  spec.worker = f.string("worker", 256).value_or(req.remote.empty() ? "anonymous" : req.remote);
  spec.max = static_cast<int>(f.integer("max", 1, kMaxLeaseBatch).value_or(1));
  spec.lease_ms = f.integer("lease_ms", 1, kMaxLeaseMs);
  if (!f.status().is_ok()) return f.status();
  return spec;
}

// Tells the broker that workers ask for `queues` while a lease request is
// open (waiting_on no_workers), however the request ends.
class LeaseRequestScope {
 public:
  LeaseRequestScope(Broker& broker, const std::vector<std::string>& queues)
      : broker_(broker), queues_(queues) {
    broker_.lease_request_started(queues_);
  }
  ~LeaseRequestScope() { broker_.lease_request_ended(queues_); }
  LeaseRequestScope(const LeaseRequestScope&) = delete;
  LeaseRequestScope& operator=(const LeaseRequestScope&) = delete;

 private:
  Broker& broker_;
  const std::vector<std::string>& queues_;  // the request's; outlives the scope
};

std::string lease_token_of(Fields& f) {
  auto lease = f.string("lease", 256);
  if (f.status().is_ok() && !lease) f.fail("lease is required: the token from POST /v1/leases");
  return lease.value_or("");
}

}  // namespace

Reply lease_jobs(State& s, http::Request& req) {
  auto body = object_body(req);
  if (!body) co_return error_response(body.status());
  auto spec = parse_lease(body->get_object(), req);
  if (!spec) co_return error_response(spec.status());
  if (s.draining)
    co_return error_response(unavailable("the server is shutting down; lease elsewhere"));
  const auto deadline = Clock::now() + requested_wait(s, req);
  std::optional<metrics::GaugeScope> open_wait;  // a long poll, not a plain lease
  if (deadline > Clock::now()) open_wait.emplace(s.metrics.open_waits());
  const LeaseRequestScope asking(s.broker, spec->queues);
  // A long poll parks in the broker, which leases to it in the same write
  // that makes a job ready: nothing polls, and a submit to an idle worker
  // costs one durable write. The wait ends early when the worker leaves or
  // the server drains (notify_everyone wakes every subscription).
  const auto executor = co_await asio::this_coro::executor;
  auto signal = co_await Signal::make();
  auto granted = std::make_shared<std::optional<Result<std::vector<JobView>>>>();
  // The grant arrives on the commit thread; the slot is only touched here.
  auto on_grant = [executor, signal, granted](Result<std::vector<JobView>> r) mutable {
    asio::post(executor, [signal, granted, r = std::move(r)]() mutable {
      *granted = std::move(r);
      signal->fire_here();
    });
  };
  if (req.client_gone()) {
    // Nobody to give jobs to: a job leased now would sit until its lease expired.
    *granted = std::vector<JobView>{};
  } else if (deadline > Clock::now() && !s.draining) {
    const std::uint64_t ticket = s.broker.lease_or_park(*spec, on_grant);
    if (ticket != 0) {
      static const std::string kDrainTopic = "errand:drain";
      const auto sub =
          s.broker.waiters().subscribe({&kDrainTopic, 1}, [signal] { signal->fire(); });
      req.on_client_gone([signal] { signal->fire(); });
      // Left, or the drain began, before these were set up.
      if (req.client_gone() || s.draining) signal->fire_here();
      auto wait_until = deadline;
      for (;;) {
        co_await signal->wait(wait_until);
        if (*granted) break;
        if (s.broker.unpark(ticket)) {
          *granted = std::vector<JobView>{};
          break;
        }
        // Leased to this request meanwhile, or a store was just looking for
        // jobs for it: its answer (jobs, or none) is on the way.
        signal->reset();
        wait_until = Clock::time_point::max();
      }
      s.broker.waiters().unsubscribe(sub);
    }
  } else {
    s.broker.lease(*spec, on_grant);
  }
  while (!*granted) {
    signal->reset();
    co_await signal->wait(Clock::time_point::max());
  }
  Result<std::vector<JobView>>& jobs = **granted;
  if (!jobs) co_return error_response(jobs.status());
  std::string out = "{\"jobs\":[";
  for (std::size_t i = 0; i < jobs->size(); ++i) {
    if (i) out += ',';
    out += leased_job_document((*jobs)[i]);
  }
  co_return json_response(200, out + "]}");
}

Reply ack_job(State& s, http::Request& req, JobId id) {
  auto body = object_body(req);
  if (!body) co_return error_response(body.status());
  const json::object& o = body->get_object();
  Fields f(o);
  f.only({"lease", "result"});
  AckSpec spec{id, lease_token_of(f), {}};
  if (!f.status().is_ok()) co_return error_response(f.status());
  auto result = result_of(f, o, "result");
  if (!result) co_return error_response(result.status());
  spec.result_json = std::move(result.value());
  auto state = co_await await_result<JobState>(
      [&](auto cb) { s.broker.ack(std::move(spec), std::move(cb)); });
  if (!state) co_return error_response(state.status());
  co_return json_response(200, "{\"state\":\"" + std::string(to_string(*state)) + "\"}");
}

Reply fail_job(State& s, http::Request& req, JobId id) {
  auto body = object_body(req);
  if (!body) co_return error_response(body.status());
  Fields f(body->get_object());
  f.only({"lease", "error", "retry", "retry_in_ms"});
  FailSpec spec;
  spec.id = id;
  spec.lease = lease_token_of(f);
  if (const json::object* e = f.object("error")) {
    Fields ef(*e, "error.");
    ef.only({"message", "type", "detail"});
    spec.error.message = ef.string("message", 64 * 1024).value_or("");
    spec.error.type = ef.string("type", 256).value_or("error");
    spec.error.detail = ef.string("detail", 64 * 1024).value_or("");
    if (!ef.status().is_ok()) co_return error_response(ef.status());
  }
  if (spec.error.message.empty()) spec.error.message = "the worker reported a failure";
  if (spec.error.type.empty()) spec.error.type = "error";
  spec.retry = f.boolean("retry").value_or(true);
  spec.retry_in_ms = f.integer("retry_in_ms", 0, 365LL * 24 * 3600 * 1000);
  if (!f.status().is_ok()) co_return error_response(f.status());
  auto out = co_await await_result<FailOutcome>(
      [&](auto cb) { s.broker.fail(std::move(spec), std::move(cb)); });
  if (!out) co_return error_response(out.status());
  std::string resp =
      "{\"state\":\"" + std::string(to_string(out->state)) + "\",\"run_at\":" +
      (out->run_at ? "\"" + format_rfc3339(*out->run_at) + "\"" : std::string("null")) + "}";
  co_return json_response(200, resp);
}

Reply heartbeat_job(State& s, http::Request& req, JobId id) {
  auto body = object_body(req);
  if (!body) co_return error_response(body.status());
  Fields f(body->get_object());
  f.only({"lease", "lease_ms", "progress"});
  HeartbeatSpec spec;
  spec.id = id;
  spec.lease = lease_token_of(f);
  spec.lease_ms = f.integer("lease_ms", 1, kMaxLeaseMs);
  if (const json::object* p = f.object("progress")) {
    Fields pf(*p, "progress.");
    pf.only({"percent", "message", "data"});
    const auto percent = pf.number("percent", 0, 100);
    const auto message = pf.string("message", 4096);
    if (!pf.status().is_ok()) co_return error_response(pf.status());
    const json::value* data = p->if_contains("data");
    json::object norm;
    norm["percent"] = percent_value(percent);
    norm["message"] = message ? json::value(*message) : json::value(nullptr);
    norm["data"] = data ? *data : json::value(nullptr);
    spec.progress_json = json::serialize(norm);
    if (spec.progress_json.size() > kMaxPayloadBytes)
      co_return error_response(too_large("progress is too large"));
  }
  if (!f.status().is_ok()) co_return error_response(f.status());
  auto out = co_await await_result<HeartbeatOutcome>(
      [&](auto cb) { s.broker.heartbeat(std::move(spec), std::move(cb)); });
  if (!out) co_return error_response(out.status());
  co_return json_response(
      200, "{\"lease_expires_at\":\"" + format_rfc3339(out->lease_expires_at) +
               "\",\"cancel_requested\":" + (out->cancel_requested ? "true" : "false") + "}");
}

Reply ack_batch(State& s, http::Request& req) {
  auto body = object_body(req);
  if (!body) co_return error_response(body.status());
  const json::value* acks = body->get_object().if_contains("acks");
  if (!acks || !acks->is_array())
    co_return error_response(invalid_argument("the body must be {\"acks\": [...]}"));
  const json::array& arr = acks->get_array();
  if (arr.size() > 1000) co_return error_response(too_large("at most 1000 acks per request"));
  // Validate everything first: a malformed entry refuses the whole request.
  std::vector<AckSpec> specs;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_object())
      co_return error_response(
          invalid_argument("acks[" + std::to_string(i) + "] must be an object"));
    const json::object& o = arr[i].get_object();
    Fields f(o, "acks[" + std::to_string(i) + "].");
    f.only({"id", "lease", "result"});
    auto id_text = f.string("id", 64);
    AckSpec spec;
    spec.lease = lease_token_of(f);
    if (!f.status().is_ok()) co_return error_response(f.status());
    auto id = id_text ? JobId::parse(*id_text) : std::nullopt;
    if (!id) co_return error_response(invalid_argument(f.name("id") + " must be a job id"));
    spec.id = *id;
    auto result = result_of(f, o, "result");
    if (!result) co_return error_response(result.status());
    spec.result_json = std::move(result.value());
    specs.push_back(std::move(spec));
  }
  std::vector<JobId> ids;
  for (const AckSpec& spec : specs) ids.push_back(spec.id);
  auto outcomes = co_await await_result<std::vector<Status>>(
      [&](auto cb) { s.broker.ack_all(std::move(specs), std::move(cb)); });
  std::string out = "{\"results\":[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    const Status& st = outcomes ? (*outcomes)[i] : outcomes.status();
    out += "{\"id\":\"" + ids[i].to_string() + "\",\"ok\":" + (st.is_ok() ? "true" : "false");
    if (!st.is_ok()) {
      out += ",\"status\":" + std::to_string(error_response(st).status) +
             ",\"detail\":" + quote(st.message());
    }
    out += "}";
  }
  co_return json_response(200, out + "]}");
}

}  // namespace errand::api
