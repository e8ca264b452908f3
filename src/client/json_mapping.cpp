#include "client/json_mapping.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "errand/client.hpp"

namespace errand::client_detail {
namespace json = boost::json;

namespace {

// The server refuses documents deeper than 64; the client lets it say so
// rather than refusing on its own, slightly different, terms.
constexpr unsigned kMaxParseDepth = 1024;

json::parse_options parse_options() {
  json::parse_options o;
  o.max_depth = kMaxParseDepth;
  return o;
}

const json::value* find(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

std::string string_of(const json::object& o, std::string_view key) {
  const json::value* v = find(o, key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<std::string> optional_string(const json::object& o, std::string_view key) {
  const json::value* v = find(o, key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

std::int64_t int_of(const json::object& o, std::string_view key) {
  const json::value* v = find(o, key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  return 0;
}

bool bool_of(const json::object& o, std::string_view key) {
  const json::value* v = find(o, key);
  return v && v->is_bool() && v->get_bool();
}

std::optional<std::string> optional_json(const json::object& o, std::string_view key) {
  const json::value* v = find(o, key);
  if (!v) return std::nullopt;
  return json::serialize(*v);
}

std::vector<std::string> strings_of(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = find(o, key);
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->get_array()) {
    if (e.is_string()) out.emplace_back(e.get_string());
  }
  return out;
}

// The "result" of a job or a flow step in `state`. A handler may return
// null: a succeeded one always has a result.
std::optional<std::string> result_of(const json::object& o, std::string_view state) {
  if (auto r = optional_json(o, "result")) return r;
  if (state == "succeeded") return "null";
  return std::nullopt;
}

const json::object& object_of(const json::value& v) {
  static const json::object kEmpty;
  const json::object* o = v.if_object();
  return o ? *o : kEmpty;
}

// Splices already-validated JSON text in as the first member of `rest`.
std::string with_leading_member(std::string_view name, std::string_view text,
                                const json::object& rest) {
  std::string out = "{" + quoted(name) + ":";
  out.append(text);
  if (!rest.empty()) {
    const std::string tail = json::serialize(rest);
    out += ",";
    out.append(tail, 1, std::string::npos);  // drops the '{'
  } else {
    out += "}";
  }
  return out;
}

}  // namespace

void require_json(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::parse(text, ec, {}, parse_options());
  if (ec) {
    throw Error(Error::Kind::kUsage, 0,
                "the " + std::string(what) + " is not valid JSON: " + ec.message());
  }
}

json::value parse_answer(std::string_view body, std::string_view context) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, parse_options());
  if (ec) {
    throw Error(
        Error::Kind::kProtocol, 0,
        std::string(context) + " answered something that is not JSON (" + ec.message() + ")",
        std::string(body));
  }
  return v;
}

const json::value& member(const json::value& answer, std::string_view name,
                          std::string_view context) {
  const json::object* o = answer.if_object();
  const json::value* v = o ? o->if_contains(name) : nullptr;
  if (!v) {
    throw Error(Error::Kind::kProtocol, 0,
                std::string(context) + " answered without \"" + std::string(name) + "\"",
                json::serialize(answer));
  }
  return *v;
}

std::string quoted(std::string_view s) { return json::serialize(json::string_view(s)); }

Job job_from(const json::value& doc, std::string text) {
  const json::object& o = object_of(doc);
  Job j;
  j.id = string_of(o, "id");
  j.queue = string_of(o, "queue");
  j.state = string_of(o, "state");
  j.attempt = static_cast<int>(int_of(o, "attempt"));
  j.max_attempts = static_cast<int>(int_of(o, "max_attempts"));
  j.cancel_requested = bool_of(o, "cancel_requested");
  j.payload = optional_json(o, "payload").value_or("null");
  j.result = result_of(o, j.state);
  j.error = optional_json(o, "error");
  j.progress = optional_json(o, "progress");
  j.json = std::move(text);
  return j;
}

LeasedJob leased_job_from(const json::value& doc) {
  const json::object& o = object_of(doc);
  LeasedJob j;
  j.id = string_of(o, "id");
  j.queue = string_of(o, "queue");
  j.payload = optional_json(o, "payload").value_or("null");
  j.attempt = static_cast<int>(int_of(o, "attempt"));
  j.max_attempts = static_cast<int>(int_of(o, "max_attempts"));
  j.lease = string_of(o, "lease");
  j.lease_expires_at = string_of(o, "lease_expires_at");
  j.deadline = optional_string(o, "deadline");
  j.traceparent = optional_string(o, "traceparent");
  j.tags = strings_of(o, "tags");
  j.flow = job_flow_from(o.if_contains("flow"));
  j.json = json::serialize(doc);
  return j;
}

std::optional<JobFlow> job_flow_from(const json::value* flow) {
  const json::object* o = flow ? flow->if_object() : nullptr;
  if (!o) return std::nullopt;
  JobFlow f;
  f.id = string_of(*o, "id");
  // A compensation names the step it undoes in "compensating" instead of "step".
  if (auto undone = optional_string(*o, "compensating")) {
    f.step = std::move(*undone);
    f.compensating = true;
  } else {
    f.step = string_of(*o, "step");
  }
  if (const json::value* inputs = find(*o, "inputs"); inputs && inputs->is_object()) {
    f.inputs_json = json::serialize(*inputs);
  }
  return f;
}

Flow flow_from(const json::value& doc, std::string text) {
  const json::object& o = object_of(doc);
  Flow f;
  f.id = string_of(o, "id");
  f.name = string_of(o, "name");
  f.state = string_of(o, "state");
  if (const json::value* steps = find(o, "steps"); steps && steps->is_object()) {
    for (const auto& [name, value] : steps->get_object()) {
      const json::object& s = object_of(value);
      FlowStep step;
      step.name = std::string(name);
      step.queue = string_of(s, "queue");
      step.state = string_of(s, "state");
      step.job = optional_string(s, "job");
      step.result = result_of(s, step.state);
      step.error = optional_json(s, "error");
      if (const json::value* c = find(s, "compensation"); c && c->is_object()) {
        step.compensation_job = optional_string(c->get_object(), "job");
        step.compensation_state = optional_string(c->get_object(), "state");
      }
      f.steps.push_back(std::move(step));
    }
  }
  f.result = optional_json(o, "result");
  f.error = optional_json(o, "error");
  f.json = std::move(text);
  return f;
}

Queue queue_from(const json::value& doc) {
  const json::object& o = object_of(doc);
  Queue q;
  q.name = string_of(o, "name");
  q.paused = bool_of(o, "paused");
  if (const json::value* counts = find(o, "counts"); counts && counts->is_object()) {
    for (const auto& [state, n] : counts->get_object()) {
      q.counts[std::string(state)] = n.is_int64() ? n.get_int64() : 0;
    }
  }
  q.oldest_queued_ms = int_of(o, "oldest_queued_ms");
  q.enqueued_total = int_of(o, "enqueued_total");
  q.succeeded_total = int_of(o, "succeeded_total");
  q.failed_total = int_of(o, "failed_total");
  q.json = json::serialize(doc);
  return q;
}

Event event_from(const json::value& doc, std::string text) {
  const json::object& o = object_of(doc);
  Event e;
  e.seq = int_of(o, "seq");
  e.type = string_of(o, "type");
  e.json = std::move(text);
  return e;
}

std::string submit_body(std::string_view payload, const SubmitOptions& options) {
  json::object o;
  if (options.priority) o["priority"] = *options.priority;
  if (options.delay_ms) o["delay_ms"] = *options.delay_ms;
  if (options.run_at) o["run_at"] = *options.run_at;
  if (options.max_attempts) o["max_attempts"] = *options.max_attempts;
  if (options.backoff) {
    json::object b;
    if (options.backoff->initial_ms) b["initial_ms"] = *options.backoff->initial_ms;
    if (options.backoff->multiplier) b["multiplier"] = *options.backoff->multiplier;
    if (options.backoff->max_ms) b["max_ms"] = *options.backoff->max_ms;
    if (options.backoff->jitter) b["jitter"] = *options.backoff->jitter;
    o["backoff"] = std::move(b);
  }
  if (options.lease_ms) o["lease_ms"] = *options.lease_ms;
  if (options.ttl_ms) o["ttl_ms"] = *options.ttl_ms;
  if (options.idempotency_key) o["idempotency_key"] = *options.idempotency_key;
  if (!options.tags.empty()) {
    json::array tags;
    for (const auto& t : options.tags) tags.emplace_back(t);
    o["tags"] = std::move(tags);
  }
  return with_leading_member("payload", payload, o);
}

std::string lease_body(const LeaseRequest& request) {
  json::object o;
  json::array queues;
  for (const auto& q : request.queues) queues.emplace_back(q);
  o["queues"] = std::move(queues);
  if (!request.worker.empty()) o["worker"] = request.worker;
  o["max"] = request.max;
  if (request.lease_ms) o["lease_ms"] = *request.lease_ms;
  return json::serialize(o);
}

std::string fail_body(std::string_view lease, const FailRequest& failure) {
  json::object o;
  o["lease"] = lease;
  json::object error;
  error["message"] = failure.message;
  error["type"] = failure.type.empty() ? std::string_view("error") : failure.type;
  error["detail"] = failure.detail;
  o["error"] = std::move(error);
  o["retry"] = failure.retry;
  if (failure.retry_in_ms) o["retry_in_ms"] = *failure.retry_in_ms;
  return json::serialize(o);
}

std::string heartbeat_body(std::string_view lease, const std::optional<Progress>& progress,
                           std::optional<std::int64_t> lease_ms) {
  json::object o;
  o["lease"] = lease;
  if (lease_ms) o["lease_ms"] = *lease_ms;
  if (!progress) return json::serialize(o);
  json::object p;
  p["percent"] = progress->percent;
  p["message"] = progress->message;
  // The data is spliced in as text (already validated), keeping its numbers
  // exactly as the caller wrote them.
  const std::string data = progress->data.value_or("null");
  return with_leading_member("progress", with_leading_member("data", data, p), o);
}

std::string problem_message(int status, std::string_view reason, std::string_view body) {
  std::string title(reason);
  std::string detail;
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.get_object();
    if (auto t = optional_string(o, "title")) title = *t;
    detail = string_of(o, "detail");
  }
  std::string out = std::to_string(status);
  if (!title.empty()) out += " " + title;
  if (!detail.empty()) out += ": " + detail;
  return out;
}

}  // namespace errand::client_detail
