// The flow record: the definition, the steps' jobs and the planner's
// status, as one versioned JSON object (docs/storage-format.md).
#include "engine/flow_record.hpp"

#include <boost/json.hpp>

namespace errand {
namespace json = boost::json;
namespace {

json::value opt_millis(const std::optional<Millis>& t) {
  return t ? json::value(*t) : json::value(nullptr);
}

std::optional<Millis> get_opt_millis(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  if (!v || v->is_null()) return std::nullopt;
  return v->to_number<Millis>();
}

std::string get_str(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

json::object backoff_json(const Backoff& b) {
  return {{"initial_ms", b.initial_ms},
          {"multiplier", b.multiplier},
          {"max_ms", b.max_ms},
          {"jitter", b.jitter}};
}

// Throws (as json::object::at does) when a member is missing.
Backoff read_backoff(const json::object& b) {
  Backoff out;
  out.initial_ms = b.at("initial_ms").to_number<std::int64_t>();
  out.multiplier = b.at("multiplier").to_number<double>();
  out.max_ms = b.at("max_ms").to_number<std::int64_t>();
  out.jitter = b.at("jitter").to_number<double>();
  return out;
}

json::value opt_id(const std::optional<JobId>& id) {
  return id ? json::value(id->to_string()) : json::value(nullptr);
}

std::optional<JobId> get_opt_id(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  if (!v || !v->is_string()) return std::nullopt;
  return JobId::parse(v->get_string());
}

json::value encode_spec(const std::optional<SubmitSpec>& s) {
  if (!s) return nullptr;
  json::array tags;
  for (const auto& t : s->tags) tags.emplace_back(t);
  return json::object{{"queue", s->queue},
                      {"payload", s->payload_json},
                      {"priority", s->priority},
                      {"run_at", opt_millis(s->run_at)},
                      {"max_attempts", s->max_attempts},
                      {"backoff", backoff_json(s->backoff)},
                      {"lease_ms", s->lease_ms},
                      {"deadline", opt_millis(s->deadline)},
                      {"tags", std::move(tags)}};
}

std::optional<SubmitSpec> decode_spec(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  SubmitSpec s;
  s.queue = get_str(o, "queue");
  s.payload_json = get_str(o, "payload");
  s.priority = o.at("priority").to_number<int>();
  s.run_at = get_opt_millis(o, "run_at");
  s.max_attempts = o.at("max_attempts").to_number<int>();
  s.backoff = read_backoff(o.at("backoff").as_object());
  s.lease_ms = o.at("lease_ms").to_number<std::int64_t>();
  s.deadline = get_opt_millis(o, "deadline");
  for (const auto& t : o.at("tags").as_array()) s.tags.emplace_back(t.as_string());
  return s;
}

}  // namespace

std::string encode_flow(const FlowRecord& f) {
  json::array steps;
  for (std::size_t i = 0; i < f.steps.size(); ++i) {
    const FlowStepRecord& s = f.steps[i];
    const StepStatus& st = f.status.steps[i];
    json::array after;
    for (const auto& a : s.after) after.emplace_back(a);
    steps.push_back(json::object{{"name", s.name},
                                 {"after", std::move(after)},
                                 {"queue", s.queue},
                                 {"job", opt_id(s.job)},
                                 {"spec", encode_spec(s.spec)},
                                 {"compensable", s.compensable},
                                 {"compensate", encode_spec(s.compensate)},
                                 {"compensation_job", opt_id(s.compensation_job)},
                                 {"phase", static_cast<int>(st.phase)},
                                 {"cancel_sent", st.cancel_sent},
                                 {"completed_as", st.completed_as},
                                 {"compensation", static_cast<int>(st.compensation)}});
  }
  json::object o{
      {"v", kFlowRecordVersion},
      {"id", f.id.to_string()},
      {"name", f.name},
      {"created_at", f.created_at},
      {"finished_at", opt_millis(f.finished_at)},
      {"deadline", opt_millis(f.deadline)},
      {"idempotency_key", f.idempotency_key},
      {"content_hash", f.content_hash},
      {"traceparent", f.traceparent},
      {"steps", std::move(steps)},
      {"state", std::string(to_string(f.status.state))},
      {"completions", f.status.completions},
      {"failed_step", f.status.failed_step
                          ? json::value(static_cast<std::uint64_t>(*f.status.failed_step))
                          : json::value(nullptr)},
      {"cancel_requested", f.status.cancel_requested},
      {"timeline_seq", f.timeline_seq}};
  if (f.error) {
    o["error"] = {{"step", f.error->step}, {"message", f.error->message}, {"type", f.error->type}};
  }
  return json::serialize(o);
}

std::optional<FlowRecord> decode_flow(std::string_view value) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(value, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const json::object& o = parsed.get_object();
  const json::value* version = o.if_contains("v");
  if (!version || !version->is_int64() || version->get_int64() != kFlowRecordVersion) {
    return std::nullopt;
  }
  try {
    FlowRecord f;
    auto id = JobId::parse(o.at("id").as_string());
    auto state = parse_flow_state(o.at("state").as_string());
    if (!id || !state) return std::nullopt;
    f.id = *id;
    f.status.state = *state;
    f.name = get_str(o, "name");
    f.created_at = o.at("created_at").to_number<Millis>();
    f.finished_at = get_opt_millis(o, "finished_at");
    f.deadline = get_opt_millis(o, "deadline");
    f.idempotency_key = get_str(o, "idempotency_key");
    f.content_hash = o.at("content_hash").to_number<std::uint64_t>();
    f.traceparent = get_str(o, "traceparent");
    for (const auto& sv : o.at("steps").as_array()) {
      const json::object& so = sv.as_object();
      FlowStepRecord s;
      s.name = get_str(so, "name");
      for (const auto& a : so.at("after").as_array()) s.after.emplace_back(a.as_string());
      s.queue = get_str(so, "queue");
      s.job = get_opt_id(so, "job");
      s.spec = decode_spec(so.at("spec"));
      s.compensable = so.at("compensable").as_bool();
      s.compensate = decode_spec(so.at("compensate"));
      s.compensation_job = get_opt_id(so, "compensation_job");
      StepStatus st;
      st.phase = static_cast<StepPhase>(so.at("phase").to_number<int>());
      st.cancel_sent = so.at("cancel_sent").as_bool();
      st.completed_as = so.at("completed_as").to_number<std::uint32_t>();
      st.compensation = static_cast<CompensationPhase>(so.at("compensation").to_number<int>());
      f.steps.push_back(std::move(s));
      f.status.steps.push_back(st);
    }
    f.status.completions = o.at("completions").to_number<std::uint32_t>();
    if (const json::value* fs = o.if_contains("failed_step"); fs && !fs->is_null()) {
      f.status.failed_step = fs->to_number<std::size_t>();
    }
    f.status.cancel_requested = o.at("cancel_requested").as_bool();
    f.timeline_seq = o.at("timeline_seq").to_number<std::uint32_t>();
    if (const json::value* e = o.if_contains("error"); e && e->is_object()) {
      const json::object& eo = e->get_object();
      f.error = FlowError{get_str(eo, "step"), get_str(eo, "message"), get_str(eo, "type")};
    }
    f.graph = flow_graph(f.shape());
    return f;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace errand
