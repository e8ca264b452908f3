// Reading the records errand wrote before the binary format (version 1,
// JSON; docs/storage-format.md), so that an existing data directory opens.
// Nothing writes this version any more.
#include <boost/json.hpp>

#include "store/embedded/codec_fields.hpp"
#include "store/embedded/record_codec_v1.hpp"

namespace errand::embedded {
namespace json = boost::json;
using codec::get_opt_millis;
using codec::get_str;

std::optional<JobRecord> decode_job_v1(std::string_view value) {
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

bool decode_queue_v1(std::string_view value, QueueState& q) {
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

}  // namespace errand::embedded
