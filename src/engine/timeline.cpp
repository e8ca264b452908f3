#include "engine/timeline.hpp"

#include "core/json_escape.hpp"

namespace errand {

std::string json_member(std::string_view name, std::string_view value) {
  std::string out = "\"";
  out += name;
  out += "\":";
  append_json_string(out, value);
  return out;
}

std::string error_json(const JobError& e) {
  return "{" + json_member("message", e.message) + "," + json_member("type", e.type) + "," +
         json_member("detail", e.detail) + ",\"attempt\":" + std::to_string(e.attempt) + "}";
}

std::string error_member(const JobError& e) { return "\"error\":" + error_json(e); }

TimelineEvent next_event(JobRecord& rec, Millis at, std::string_view type,
                         std::string_view fields_json) {
  return next_event(rec.timeline_seq, at, type, fields_json);
}

std::string enqueued_fields(const JobRecord& rec) {
  return json_member("queue", rec.queue) + ",\"priority\":" + std::to_string(rec.priority);
}

TimelineEvent enqueued_event(const JobRecord& rec) {
  std::uint32_t seq = 0;
  return next_event(seq, rec.created_at, "enqueued", enqueued_fields(rec));
}

std::string leased_fields(const JobRecord& rec) {
  const Millis started = rec.started_at.value_or(0);
  return json_member("worker", rec.worker) + ",\"attempt\":" + std::to_string(rec.attempt) + "," +
         json_member("lease_expires_at", format_rfc3339(started + rec.granted_lease_ms));
}

TimelineEvent leased_event(const JobRecord& rec) {
  std::uint32_t seq = rec.timeline_seq - (rec.state == JobState::kSucceeded ? 2 : 1);
  return next_event(seq, rec.started_at.value_or(0), "leased", leased_fields(rec));
}

std::string succeeded_fields(const JobRecord& rec) {
  return "\"attempt\":" + std::to_string(rec.attempt) + "," + json_member("worker", rec.worker);
}

TimelineEvent succeeded_event(const JobRecord& rec) {
  std::uint32_t seq = rec.timeline_seq - 1;
  return next_event(seq, rec.finished_at.value_or(0), "succeeded", succeeded_fields(rec));
}

TimelineEvent next_event(std::uint32_t& seq, Millis at, std::string_view type,
                         std::string_view fields_json) {
  TimelineEvent ev;
  ev.seq = ++seq;
  ev.type = std::string(type);
  ev.json = "{\"seq\":" + std::to_string(ev.seq) + ",\"at\":\"" + format_rfc3339(at) +
            "\",\"type\":\"" + ev.type + "\"";
  if (!fields_json.empty()) {
    ev.json += ",";
    ev.json += fields_json;
  }
  ev.json += "}";
  return ev;
}

TimelineEvent stored_event(std::uint32_t seq, std::string json) {
  TimelineEvent ev;
  ev.seq = seq;
  ev.json = std::move(json);
  // The type is the third member of the event object (next_event()).
  const auto at = ev.json.find("\"type\":\"");
  if (at != std::string::npos) {
    const auto start = at + 8;
    ev.type = ev.json.substr(start, ev.json.find('"', start) - start);
  }
  return ev;
}

}  // namespace errand
