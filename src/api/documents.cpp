#include "api/documents.hpp"

#include <boost/json/serialize.hpp>

#include "api/json_body.hpp"
#include "core/json_escape.hpp"
#include "engine/timeline.hpp"

namespace errand::api {
namespace {

// Appended, like job_document: it is part of every submit's answer.
void append_waiting_on(std::string& out, const WaitingOn& w) {
  const auto number = [&out](const char* member, std::int64_t n) {
    out += member;
    out += std::to_string(n);
  };
  const auto time = [&out](const char* member, const std::optional<Millis>& t) {
    out += member;
    append_time_or_null(out, t);
  };
  out += "{\"reason\":\"";
  out += to_string(w.reason);
  out += '"';
  switch (w.reason) {
    case WaitReason::kScheduled:
      time(",\"until\":", w.until);
      break;
    case WaitReason::kBackoff:
      number(",\"attempt\":", w.attempt);
      number(",\"max_attempts\":", w.max_attempts);
      time(",\"until\":", w.until);
      out += ",\"last_error\":";
      out += w.last_error ? "{" + json_member("message", w.last_error->message) + "," +
                                json_member("type", w.last_error->type) + "}"
                          : std::string("null");
      break;
    case WaitReason::kPaused:
      out += ",\"queue\":";
      append_json_string(out, w.queue);
      break;
    case WaitReason::kQueued:
      number(",\"ahead\":", w.ahead);
      break;
    case WaitReason::kNoWorkers:
      number(",\"ahead\":", w.ahead);
      number(",\"idle_seconds\":", w.idle_ms / 1000);
      time(",\"last_lease_request_at\":", w.last_lease_request_at);
      break;
    case WaitReason::kRunning:
      out += ",\"worker\":";
      append_string_or_null(out, w.worker);
      number(",\"attempt\":", w.attempt);
      time(",\"lease_expires_at\":", w.until);
      out += ",\"cancel_requested\":";
      out += w.cancel_requested ? "true" : "false";
      break;
  }
  out += ",\"message\":";
  append_json_string(out, w.message);
  out += '}';
}

// {"id","step"} of a step's job, plus "compensating": true for a compensation.
std::string flow_ref_json(const std::optional<FlowRef>& f) {
  if (!f) return "null";
  std::string out = "{\"id\":\"" + f->id.to_string() + "\",\"step\":" + quote(f->step);
  if (f->compensating) out += ",\"compensating\":true";
  return out + "}";
}

// What a leased step job carries beside its payload (SPEC §3 Flows).
std::string leased_flow_json(const std::optional<LeasedFlow>& f) {
  if (!f) return "null";
  std::string out = "{\"id\":\"" + f->id.to_string() + "\"";
  out += (f->compensating ? ",\"compensating\":" : ",\"step\":") + quote(f->step);
  return out + ",\"inputs\":" + (f->inputs_json.empty() ? "{}" : f->inputs_json) + "}";
}

}  // namespace

std::string time_or_null(const std::optional<Millis>& t) {
  std::string out;
  append_time_or_null(out, t);
  return out;
}

void append_time_or_null(std::string& out, const std::optional<Millis>& t) {
  if (!t) {
    out += "null";
    return;
  }
  out += '"';
  append_rfc3339(out, *t);
  out += '"';
}

std::string string_or_null(const std::string& s) { return s.empty() ? "null" : quote(s); }

void append_string_or_null(std::string& out, std::string_view s) {
  if (s.empty()) {
    out += "null";
  } else {
    append_json_string(out, s);
  }
}

std::string_view raw_or_null(std::string_view json) { return json.empty() ? "null" : json; }

std::string string_array(const std::vector<std::string>& strings) {
  std::string out;
  append_string_array(out, strings);
  return out;
}

void append_string_array(std::string& out, const std::vector<std::string>& strings) {
  out += '[';
  for (std::size_t i = 0; i < strings.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, strings[i]);
  }
  out += ']';
}

Status invalid_queue_name(const std::string& name, const std::string& field) {
  return invalid_argument((field.empty() ? "" : field + ": ") + "'" + name +
                          "' is not a valid queue name: use 1 to 128 of A-Z a-z 0-9 . _ -, "
                          "starting with a letter or digit");
}

// Built by appending: this document answers every submit, and temporaries
// made it a tenth of a submit's instructions.
std::string job_document(const JobView& v) {
  const JobRecord& r = v.record;
  std::string out;
  out.reserve(1024 + v.payload_json.size() + v.result_json.size() + r.progress_json.size());
  out += "{\"id\":\"";
  out += r.id.to_string();
  out += "\",\"queue\":";
  append_json_string(out, r.queue);
  out += ",\"state\":\"";
  out += to_string(r.state);
  out += "\",\"payload\":";
  out += raw_or_null(v.payload_json);
  out += ",\"priority\":";
  out += std::to_string(r.priority);
  out += ",\"attempt\":";
  out += std::to_string(r.attempt);
  out += ",\"max_attempts\":";
  out += std::to_string(r.max_attempts);
  out += ",\"created_at\":";
  append_time_or_null(out, r.created_at);
  out += ",\"run_at\":";
  append_time_or_null(out, r.run_at);
  out += ",\"started_at\":";
  append_time_or_null(out, r.started_at);
  out += ",\"finished_at\":";
  append_time_or_null(out, r.finished_at);
  out += ",\"lease_expires_at\":";
  append_time_or_null(out, r.lease_expires_at);
  out += ",\"worker\":";
  append_string_or_null(out, r.worker);
  out += ",\"result\":";
  out += raw_or_null(v.result_json);
  out += ",\"error\":";
  out += r.error ? error_json(*r.error) : std::string("null");
  out += ",\"progress\":";
  out += raw_or_null(r.progress_json);
  out += ",\"cancel_requested\":";
  out += r.cancel_requested ? "true" : "false";
  out += ",\"idempotency_key\":";
  append_string_or_null(out, r.idempotency_key);
  out += ",\"deadline\":";
  append_time_or_null(out, r.deadline);
  out += ",\"tags\":";
  append_string_array(out, r.tags);
  out += ",\"traceparent\":";
  append_string_or_null(out, r.traceparent);
  out += ",\"flow\":";
  out += flow_ref_json(r.flow);
  // Terminal jobs wait on nothing: null.
  out += ",\"waiting_on\":";
  if (v.waiting_on && !is_terminal(r.state)) {
    append_waiting_on(out, *v.waiting_on);
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

std::string leased_job_document(const JobView& v) {
  const JobRecord& r = v.record;
  std::string out;
  out.reserve(512 + v.payload_json.size());
  out += "{\"id\":\"";
  out += r.id.to_string();
  out += "\",\"queue\":";
  append_json_string(out, r.queue);
  out += ",\"payload\":";
  out += v.payload_json.empty() ? "null" : v.payload_json;
  out += ",\"attempt\":";
  out += std::to_string(r.attempt);
  out += ",\"max_attempts\":";
  out += std::to_string(r.max_attempts);
  out += ",\"lease\":\"";
  out += r.lease_token;
  out += "\",\"lease_expires_at\":";
  append_time_or_null(out, r.lease_expires_at);
  out += ",\"deadline\":";
  append_time_or_null(out, r.deadline);
  out += ",\"traceparent\":";
  append_string_or_null(out, r.traceparent);
  out += ",\"tags\":";
  append_string_array(out, r.tags);
  out += ",\"flow\":";
  out += leased_flow_json(v.flow);
  out += '}';
  return out;
}

std::string queue_document(const QueueStats& q) {
  std::string out = "{\"name\":" + quote(q.name);
  out += std::string(",\"paused\":") + (q.paused ? "true" : "false");
  out += ",\"max_queued\":" + (q.max_queued ? std::to_string(*q.max_queued) : std::string("null"));
  out += ",\"counts\":{";
  for (int i = 0; i < kJobStateCount; ++i) {
    if (i) out += ',';
    out += "\"" + std::string(to_string(static_cast<JobState>(i))) +
           "\":" + std::to_string(q.counts[i]);
  }
  out += "},\"oldest_queued_ms\":" +
         (q.oldest_queued_ms ? std::to_string(*q.oldest_queued_ms) : std::string("null"));
  out += ",\"enqueued_total\":" + std::to_string(q.enqueued_total);
  out += ",\"succeeded_total\":" + std::to_string(q.succeeded_total);
  out += ",\"failed_total\":" + std::to_string(q.failed_total);
  return out + "}";
}

Result<SubmitSpec> parse_submit(const json::object& body, std::string queue, Millis now,
                                const std::string& prefix,
                                std::initializer_list<std::string_view> also) {
  Fields f(body, prefix);
  f.only({"payload", "priority", "delay_ms", "run_at", "max_attempts", "backoff", "lease_ms",
          "ttl_ms", "deadline", "idempotency_key", "tags", "callback_url"},
         also);
  SubmitSpec s;
  s.queue = std::move(queue);
  const json::value* payload = body.if_contains("payload");
  if (!payload) return invalid_argument(f.name("payload") + " is required");
  s.payload_json = json::serialize(*payload);
  if (s.payload_json.size() > kMaxPayloadBytes) {
    return too_large(f.name("payload") + " is " + std::to_string(s.payload_json.size()) +
                     " bytes; the limit is " + std::to_string(kMaxPayloadBytes));
  }
  s.priority = static_cast<int>(f.integer("priority", -1'000'000, 1'000'000).value_or(0));
  const auto delay = f.integer("delay_ms", 0, kMaxDurationMs);
  const auto run_at = f.string("run_at", 64);
  if (delay && run_at)
    f.fail("give " + f.name("delay_ms") + " or " + f.name("run_at") + ", not both");
  if (delay) s.run_at = now + *delay;
  if (run_at) {
    s.run_at = parse_rfc3339(*run_at);
    if (!s.run_at) f.fail(f.name("run_at") + " must be an RFC 3339 time");
  }
  s.max_attempts =
      static_cast<int>(f.integer("max_attempts", 1, 1000).value_or(kDefaultMaxAttempts));
  if (const json::object* b = f.object("backoff")) {
    Fields bf(*b, f.name("backoff."));
    bf.only({"initial_ms", "multiplier", "max_ms", "jitter"});
    s.backoff.initial_ms =
        bf.integer("initial_ms", 0, kMaxDurationMs).value_or(s.backoff.initial_ms);
    s.backoff.multiplier = bf.number("multiplier", 1.0, 1000.0).value_or(s.backoff.multiplier);
    s.backoff.max_ms = bf.integer("max_ms", 0, kMaxDurationMs).value_or(s.backoff.max_ms);
    s.backoff.jitter = bf.number("jitter", 0.0, 1.0).value_or(s.backoff.jitter);
    if (!bf.status().is_ok()) return bf.status();
  }
  s.lease_ms = f.integer("lease_ms", 1, 24LL * 3600 * 1000).value_or(kDefaultLeaseMs);
  const auto ttl = f.integer("ttl_ms", 1, kMaxDurationMs);
  const auto deadline = f.string("deadline", 64);
  if (ttl && deadline)
    f.fail("give " + f.name("ttl_ms") + " or " + f.name("deadline") + ", not both");
  if (ttl) s.deadline = now + *ttl;
  if (deadline) {
    s.deadline = parse_rfc3339(*deadline);
    if (!s.deadline) f.fail(f.name("deadline") + " must be an RFC 3339 time");
  }
  if (auto key = f.string("idempotency_key", 256)) {
    if (key->empty()) f.fail(f.name("idempotency_key") + " must not be empty");
    s.idempotency_key = std::move(*key);
  }
  if (const json::array* tags = f.array("tags")) {
    if (tags->size() > 32) f.fail(f.name("tags") + " may hold at most 32 tags");
    for (const auto& t : *tags) {
      if (!t.is_string() || t.get_string().empty() || t.get_string().size() > 128) {
        f.fail(f.name("tags") + " must be strings of 1 to 128 bytes");
        break;
      }
      s.tags.emplace_back(t.get_string());
    }
  }
  if (f.raw("callback_url")) f.fail(f.name("callback_url") + " is not supported yet");
  if (!f.status().is_ok()) return f.status();
  return s;
}

}  // namespace errand::api
