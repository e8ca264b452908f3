#include "store/embedded/record_codec.hpp"

#include <boost/json.hpp>

#include "store/embedded/codec_fields.hpp"

namespace errand::embedded {
namespace json = boost::json;
using codec::get_opt_millis;
using codec::get_str;
using codec::opt_millis;

std::string encode_job(const JobRecord& r) {
  json::object o;
  o["v"] = kRecordFormatVersion;
  o["id"] = r.id.to_string();
  o["queue"] = r.queue;
  o["state"] = std::string(to_string(r.state));
  o["priority"] = r.priority;
  o["attempt"] = r.attempt;
  o["max_attempts"] = r.max_attempts;
  o["backoff"] = codec::backoff_json(r.backoff);
  o["lease_ms"] = r.lease_ms;
  o["granted_lease_ms"] = r.granted_lease_ms;
  o["created_at"] = r.created_at;
  o["run_at"] = r.run_at;
  o["started_at"] = opt_millis(r.started_at);
  o["finished_at"] = opt_millis(r.finished_at);
  o["lease_expires_at"] = opt_millis(r.lease_expires_at);
  o["deadline"] = opt_millis(r.deadline);
  o["worker"] = r.worker;
  o["lease"] = r.lease_token;
  if (r.error) {
    o["error"] = {{"message", r.error->message},
                  {"type", r.error->type},
                  {"detail", r.error->detail},
                  {"attempt", r.error->attempt}};
  }
  o["progress"] = r.progress_json;
  o["cancel_requested"] = r.cancel_requested;
  o["idempotency_key"] = r.idempotency_key;
  json::array tags;
  for (const auto& t : r.tags) tags.emplace_back(t);
  o["tags"] = std::move(tags);
  o["traceparent"] = r.traceparent;
  o["payload_hash"] = r.payload_hash;
  o["timeline_seq"] = r.timeline_seq;
  if (r.flow) {
    o["flow"] = {{"id", r.flow->id.to_string()},
                 {"step", r.flow->step},
                 {"compensating", r.flow->compensating}};
  }
  return json::serialize(o);
}

std::optional<JobRecord> decode_job(std::string_view value) {
  const auto parsed = codec::parse_record(value);
  if (!parsed) return std::nullopt;
  const json::object& o = *parsed;
  try {
    JobRecord r;
    auto id = JobId::parse(o.at("id").as_string());
    auto state = parse_job_state(o.at("state").as_string());
    if (!id || !state) return std::nullopt;
    r.id = *id;
    r.state = *state;
    r.queue = get_str(o, "queue");
    r.priority = o.at("priority").to_number<int>();
    r.attempt = o.at("attempt").to_number<int>();
    r.max_attempts = o.at("max_attempts").to_number<int>();
    r.backoff = codec::read_backoff(o.at("backoff").as_object());
    r.lease_ms = o.at("lease_ms").to_number<std::int64_t>();
    r.granted_lease_ms = o.at("granted_lease_ms").to_number<std::int64_t>();
    r.created_at = o.at("created_at").to_number<Millis>();
    r.run_at = o.at("run_at").to_number<Millis>();
    r.started_at = get_opt_millis(o, "started_at");
    r.finished_at = get_opt_millis(o, "finished_at");
    r.lease_expires_at = get_opt_millis(o, "lease_expires_at");
    r.deadline = get_opt_millis(o, "deadline");
    r.worker = get_str(o, "worker");
    r.lease_token = get_str(o, "lease");
    if (const json::value* e = o.if_contains("error"); e && e->is_object()) {
      const json::object& eo = e->get_object();
      r.error = JobError{get_str(eo, "message"), get_str(eo, "type"), get_str(eo, "detail"),
                         eo.at("attempt").to_number<int>()};
    }
    r.progress_json = get_str(o, "progress");
    r.cancel_requested = o.at("cancel_requested").as_bool();
    r.idempotency_key = get_str(o, "idempotency_key");
    for (const auto& t : o.at("tags").as_array()) r.tags.emplace_back(t.as_string());
    r.traceparent = get_str(o, "traceparent");
    r.payload_hash = o.at("payload_hash").to_number<std::uint64_t>();
    r.timeline_seq = o.at("timeline_seq").to_number<std::uint32_t>();
    if (const json::value* f = o.if_contains("flow"); f && f->is_object()) {
      const json::object& fo = f->get_object();
      auto flow_id = JobId::parse(fo.at("id").as_string());
      if (!flow_id) return std::nullopt;
      r.flow = FlowRef{*flow_id, get_str(fo, "step"), fo.at("compensating").as_bool()};
    }
    return r;
  } catch (const std::exception&) {
    return std::nullopt;  // a value of another shape: corrupt or from a newer version
  }
}

std::string encode_queue(const QueueState& q) {
  json::object o;
  o["v"] = kRecordFormatVersion;
  o["paused"] = q.paused;
  if (q.max_queued > 0) o["max_queued"] = q.max_queued;
  o["enqueued_total"] = q.enqueued_total;
  o["succeeded_total"] = q.succeeded_total;
  o["failed_total"] = q.failed_total;
  return json::serialize(o);
}

bool decode_queue(std::string_view value, QueueState& q) {
  boost::system::error_code ec;
  json::value v = json::parse(value, ec);
  if (ec || !v.is_object()) return false;
  try {
    const json::object& o = v.get_object();
    q.paused = o.at("paused").as_bool();
    const json::value* max_queued = o.if_contains("max_queued");
    q.max_queued = max_queued ? max_queued->to_number<std::int64_t>() : 0;
    q.enqueued_total = o.at("enqueued_total").to_number<std::int64_t>();
    q.succeeded_total = o.at("succeeded_total").to_number<std::int64_t>();
    q.failed_total = o.at("failed_total").to_number<std::int64_t>();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string timeline_key(const JobId& id, std::uint32_t seq) {
  std::string key(id.raw());
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(seq >> shift));
  return key;
}

std::uint32_t timeline_key_seq(std::string_view key) {
  std::uint32_t seq = 0;
  for (std::size_t i = 16; i < 20 && i < key.size(); ++i) {
    seq = (seq << 8) | static_cast<unsigned char>(key[i]);
  }
  return seq;
}

}  // namespace errand::embedded
