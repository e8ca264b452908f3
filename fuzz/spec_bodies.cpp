#include "spec_bodies.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>

#include "api/json_body.hpp"
#include "core/time.hpp"

namespace errand::fuzz {
namespace {

namespace json = boost::json;

json::value time_or_null(const std::optional<Millis>& t) {
  return t ? json::value(format_rfc3339(*t)) : json::value(nullptr);
}

std::string show(const std::optional<Millis>& t) {
  return t ? std::to_string(*t) + " (" + format_rfc3339(*t) + ")" : "none";
}

template <typename T>
void compare(std::string& out, const char* field, const T& a, const T& b) {
  if (a == b) return;
  out += std::string(field) + " differs; ";
}

void compare_times(std::string& out, const char* field, const std::optional<Millis>& a,
                   const std::optional<Millis>& b) {
  if (a == b) return;
  out += std::string(field) + ": " + show(a) + " != " + show(b) + "; ";
}

}  // namespace

json::value parse_as_api(std::string_view text) {
  http::Request req;
  req.method = "POST";
  req.body = std::string(text);
  auto v = api::parse_json_body(req);
  if (!v) {
    std::fprintf(stderr, "fuzz: not JSON to the API: %s\n", v.status().message().c_str());
    std::abort();
  }
  return std::move(v.value());
}

json::object submit_body(const SubmitSpec& s) {
  json::array tags;
  for (const auto& t : s.tags) tags.emplace_back(t);
  json::object body{{"payload", parse_as_api(s.payload_json)},
                    {"priority", s.priority},
                    {"run_at", time_or_null(s.run_at)},
                    {"max_attempts", s.max_attempts},
                    {"backoff",
                     {{"initial_ms", s.backoff.initial_ms},
                      {"multiplier", s.backoff.multiplier},
                      {"max_ms", s.backoff.max_ms},
                      {"jitter", s.backoff.jitter}}},
                    {"lease_ms", s.lease_ms},
                    {"deadline", time_or_null(s.deadline)},
                    {"tags", std::move(tags)}};
  if (!s.idempotency_key.empty()) body["idempotency_key"] = s.idempotency_key;
  return body;
}

json::object flow_body(const FlowSpec& f, Millis now) {
  json::object steps;
  for (const FlowStepSpec& step : f.steps) {
    json::object o = submit_body(step.job);
    o["queue"] = step.job.queue;
    json::array after;
    for (const auto& a : step.after) after.emplace_back(a);
    o["after"] = std::move(after);
    if (step.compensate) {
      json::object c = submit_body(*step.compensate);
      c["queue"] = step.compensate->queue;
      o["compensate"] = std::move(c);
    }
    steps[step.name] = std::move(o);
  }
  json::object body{{"name", f.name}, {"steps", std::move(steps)}};
  if (!f.idempotency_key.empty()) body["idempotency_key"] = f.idempotency_key;
  if (f.deadline) body["ttl_ms"] = *f.deadline - now;
  return body;
}

std::string differences(const SubmitSpec& a, const SubmitSpec& b) {
  std::string out;
  compare(out, "queue", a.queue, b.queue);
  compare(out, "payload", a.payload_json, b.payload_json);
  compare(out, "priority", a.priority, b.priority);
  compare_times(out, "run_at", a.run_at, b.run_at);
  compare(out, "max_attempts", a.max_attempts, b.max_attempts);
  compare(out, "backoff.initial_ms", a.backoff.initial_ms, b.backoff.initial_ms);
  compare(out, "backoff.multiplier", a.backoff.multiplier, b.backoff.multiplier);
  compare(out, "backoff.max_ms", a.backoff.max_ms, b.backoff.max_ms);
  compare(out, "backoff.jitter", a.backoff.jitter, b.backoff.jitter);
  compare(out, "lease_ms", a.lease_ms, b.lease_ms);
  compare_times(out, "deadline", a.deadline, b.deadline);
  compare(out, "idempotency_key", a.idempotency_key, b.idempotency_key);
  compare(out, "tags", a.tags, b.tags);
  return out;
}

std::string differences(const FlowSpec& a, const FlowSpec& b) {
  std::string out;
  compare(out, "name", a.name, b.name);
  compare(out, "idempotency_key", a.idempotency_key, b.idempotency_key);
  compare_times(out, "deadline", a.deadline, b.deadline);
  if (a.steps.size() != b.steps.size()) return out + "the number of steps differs";
  for (std::size_t i = 0; i < a.steps.size(); ++i) {
    const FlowStepSpec& x = a.steps[i];
    const FlowStepSpec& y = b.steps[i];
    const std::string step = "steps[" + std::to_string(i) + "].";
    compare(out, (step + "name").c_str(), x.name, y.name);
    compare(out, (step + "after").c_str(), x.after, y.after);
    if (auto d = differences(x.job, y.job); !d.empty()) out += step + "job: " + d;
    if (x.compensate.has_value() != y.compensate.has_value()) {
      out += step + "compensate differs; ";
    } else if (x.compensate) {
      if (auto d = differences(*x.compensate, *y.compensate); !d.empty()) {
        out += step + "compensate: " + d;
      }
    }
  }
  return out;
}

}  // namespace errand::fuzz
