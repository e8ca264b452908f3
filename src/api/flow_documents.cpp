#include "api/flow_documents.hpp"

#include <algorithm>

#include "api/documents.hpp"
#include "api/json_body.hpp"
#include "core/queue_name.hpp"
#include "engine/timeline.hpp"

namespace errand::api {
namespace {

// Generous: the real check is is_valid_queue_name, whose message is clearer.
constexpr std::size_t kMaxQueueFieldBytes = 1024;

// A step's name, its `after` and whether it declares `compensate`: what
// validate_flow_shape checks before any job field is read.
Result<FlowStepShape> read_shape(std::string_view name, const json::value& step) {
  const std::string field = "steps." + std::string(name);
  if (!step.is_object()) {
    return invalid_argument(field + " must be an object: {\"queue\", \"payload\", ...}");
  }
  const json::object& o = step.get_object();
  Fields f(o, field + ".");
  FlowStepShape shape{std::string(name), {}, false};
  if (const json::array* after = f.array("after")) {
    // Each names another step once, so a longer list is wrong anyway; the
    // bound keeps the shape check cheap.
    if (after->size() > kMaxFlowSteps) {
      return invalid_argument(f.name("after") + " names " + std::to_string(after->size()) +
                              " steps; a flow has at most " + std::to_string(kMaxFlowSteps));
    }
    for (const auto& a : *after) {
      if (!a.is_string()) return invalid_argument(f.name("after") + " must hold step names");
      shape.after.emplace_back(a.get_string());
    }
  }
  if (!f.status().is_ok()) return f.status();
  shape.compensable = f.raw("compensate") != nullptr;
  return shape;
}

// One job of a flow, a step's or its compensation's: a `queue` plus the job
// fields of a submit (`also` names the other members the caller reads).
Result<SubmitSpec> read_step_job(const json::object& o, const std::string& prefix, Millis now,
                                 std::initializer_list<std::string_view> also) {
  Fields f(o, prefix);
  if (o.contains("idempotency_key")) {
    return invalid_argument(f.name("idempotency_key") +
                            " is not allowed: the flow's idempotency_key covers its steps");
  }
  auto queue = f.string("queue", kMaxQueueFieldBytes);
  if (!f.status().is_ok()) return f.status();
  if (!queue) return invalid_argument(f.name("queue") + " is required");
  if (!is_valid_queue_name(*queue)) return invalid_queue_name(*queue, f.name("queue"));
  return parse_submit(o, std::move(*queue), now, prefix, also);
}

std::string flow_error_json(const FlowError& e) {
  return "{\"step\":" + quote(e.step) + ",\"message\":" + quote(e.message) +
         ",\"type\":" + string_or_null(e.type) + "}";
}

// `waiting_on` of a pending step: its `after` steps that have not succeeded.
std::string waiting_on_json(const FlowView& flow, const FlowStepView& step) {
  std::vector<std::string> waiting;
  for (const std::string& name : step.after) {
    const auto it = std::find_if(flow.steps.begin(), flow.steps.end(),
                                 [&](const FlowStepView& s) { return s.name == name; });
    if (it == flow.steps.end() || it->state != "succeeded") waiting.push_back(name);
  }
  std::string message = waiting.size() == 1 ? "waiting for flow step " : "waiting for flow steps ";
  for (std::size_t i = 0; i < waiting.size(); ++i) message += (i ? ", " : "") + waiting[i];
  return "{\"reason\":\"flow\",\"steps\":" + string_array(waiting) +
         ",\"message\":" + quote(message) + "}";
}

std::string step_json(const FlowView& flow, const FlowStepView& s) {
  std::string out = quote(s.name) + ":{\"queue\":" + quote(s.queue);
  out += ",\"after\":" + string_array(s.after);
  out += ",\"state\":" + quote(s.state);
  out += ",\"job\":" + (s.job ? "\"" + s.job->to_string() + "\"" : std::string("null"));
  out += ",\"result\":";
  out += raw_or_null(s.result_json);
  out += ",\"error\":" + (s.error ? error_json(*s.error) : std::string("null"));
  out += ",\"compensation\":";
  if (!s.compensable) {
    out += "null";
  } else {
    out +=
        "{\"job\":" +
        (s.compensation_job ? "\"" + s.compensation_job->to_string() + "\"" : std::string("null")) +
        ",\"state\":" + string_or_null(s.compensation_state) + "}";
  }
  out += ",\"waiting_on\":" + (s.state == "pending" ? waiting_on_json(flow, s) : "null");
  return out + "}";
}

}  // namespace

Result<FlowSpec> parse_flow(const json::object& body, Millis now) {
  Fields f(body);
  f.only({"name", "steps", "idempotency_key", "ttl_ms"});
  FlowSpec spec;
  spec.name = f.string("name", kMaxFlowNameLength).value_or("");
  if (auto key = f.string("idempotency_key", 256)) {
    if (key->empty()) f.fail("idempotency_key must not be empty");
    spec.idempotency_key = std::move(*key);
  }
  if (auto ttl = f.integer("ttl_ms", 1, kMaxDurationMs)) spec.deadline = now + *ttl;
  const json::object* steps = f.object("steps");
  if (!f.status().is_ok()) return f.status();
  if (!steps) {
    return invalid_argument(
        "steps is required: {\"<step name>\": {\"queue\": ..., \"payload\": ...}, ...}");
  }
  std::vector<FlowStepShape> shapes;
  shapes.reserve(steps->size());
  for (const auto& kv : *steps) {
    auto shape = read_shape(kv.key(), kv.value());
    if (!shape) return shape.status();
    shapes.push_back(std::move(shape.value()));
  }
  if (auto shape = validate_flow_shape(shapes); !shape.is_ok()) return shape;
  std::size_t i = 0;
  for (const auto& kv : *steps) {
    const std::string prefix = "steps." + std::string(kv.key()) + ".";
    const json::object& o = kv.value().get_object();  // read_shape checked
    FlowStepSpec step;
    step.name = std::move(shapes[i].name);
    step.after = std::move(shapes[i].after);
    auto job = read_step_job(o, prefix, now, {"queue", "after", "compensate"});
    if (!job) return job.status();
    step.job = std::move(job.value());
    if (shapes[i].compensable) {
      Fields sf(o, prefix);
      const json::object* c = sf.object("compensate");
      if (!c) return sf.status();
      auto compensation = read_step_job(*c, prefix + "compensate.", now, {"queue"});
      if (!compensation) return compensation.status();
      step.compensate = std::move(compensation.value());
    }
    spec.steps.push_back(std::move(step));
    ++i;
  }
  return spec;
}

std::string flow_document(const FlowView& f) {
  std::string out = "{\"id\":\"" + f.id.to_string() + "\"";
  out += ",\"name\":" + string_or_null(f.name);
  out += ",\"state\":\"" + std::string(to_string(f.state)) + "\"";
  out += ",\"created_at\":" + time_or_null(f.created_at);
  out += ",\"finished_at\":" + time_or_null(f.finished_at);
  out += ",\"deadline\":" + time_or_null(f.deadline);
  out += ",\"idempotency_key\":" + string_or_null(f.idempotency_key);
  out += ",\"steps\":{";
  for (std::size_t i = 0; i < f.steps.size(); ++i) {
    if (i) out += ',';
    out += step_json(f, f.steps[i]);
  }
  out += "},\"result\":";
  out += raw_or_null(f.result_json);
  out += ",\"error\":" + (f.error ? flow_error_json(*f.error) : std::string("null"));
  return out + "}";
}

}  // namespace errand::api
