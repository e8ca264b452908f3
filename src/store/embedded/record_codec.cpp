#include "store/embedded/record_codec.hpp"

#include "store/embedded/binary_fields.hpp"
#include "store/embedded/record_codec_v1.hpp"

namespace errand::embedded {
namespace {

// A value's format: binary records start with their version byte, version 1
// (JSON) with '{'.
constexpr char kJsonRecordStart = '{';

// Which optional parts a job record has, as bits of one byte.
enum JobParts : std::uint8_t {
  kHasError = 1,
  kHasFlow = 2,
  kCancelRequested = 4,
  kLeasedEventUnwritten = 8,  // since version 3
};
constexpr std::uint8_t kAllJobParts =
    kHasError | kHasFlow | kCancelRequested | kLeasedEventUnwritten;

}  // namespace

std::string encode_job(const JobRecord& r) {
  std::string out;
  out.reserve(96 + r.queue.size() + r.worker.size() + r.lease_token.size() +
              r.progress_json.size() + r.idempotency_key.size() + r.traceparent.size());
  binary::Writer w(out);
  w.byte(kJobFormatVersion);
  w.fixed(r.id.raw());
  append_job_fields(r, out);
  return out;
}

void append_job_fields(const JobRecord& r, std::string& out) {
  binary::Writer w(out);
  w.text(r.queue);
  w.byte(static_cast<std::uint8_t>(r.state));
  w.byte(static_cast<std::uint8_t>((r.error ? kHasError : 0) | (r.flow ? kHasFlow : 0) |
                                   (r.cancel_requested ? kCancelRequested : 0) |
                                   (r.leased_event_unwritten ? kLeasedEventUnwritten : 0)));
  w.svarint(r.priority);
  w.svarint(r.attempt);
  w.svarint(r.max_attempts);
  w.svarint(r.backoff.initial_ms);
  w.real(r.backoff.multiplier);
  w.svarint(r.backoff.max_ms);
  w.real(r.backoff.jitter);
  w.svarint(r.lease_ms);
  w.svarint(r.granted_lease_ms);
  w.svarint(r.created_at);
  w.svarint(r.run_at);
  w.optional(r.started_at);
  w.optional(r.finished_at);
  w.optional(r.lease_expires_at);
  w.optional(r.deadline);
  w.text(r.worker);
  w.text(r.lease_token);
  w.text(r.progress_json);
  w.text(r.idempotency_key);
  w.uvarint(r.tags.size());
  for (const auto& t : r.tags) w.text(t);
  w.text(r.traceparent);
  w.uvarint(r.payload_hash);
  w.uvarint(r.timeline_seq);
  if (r.error) {
    w.text(r.error->message);
    w.text(r.error->type);
    w.text(r.error->detail);
    w.svarint(r.error->attempt);
  }
  if (r.flow) {
    w.fixed(r.flow->id.raw());
    w.text(r.flow->step);
    w.flag(r.flow->compensating);
  }
}

std::optional<JobRecord> decode_job(std::string_view value) {
  if (!value.empty() && value[0] == kJsonRecordStart) return decode_job_v1(value);
  binary::Reader in(value);
  const std::uint8_t version = in.byte();
  if (version != kJobFormatVersion && version != 2) return std::nullopt;
  const std::string_view id = in.fixed(16);
  if (!in.ok()) return std::nullopt;
  auto r = decode_job_fields(JobId::from_raw(id), value.substr(1 + id.size()));  // version, id
  // Version 2 is version 3 without the leased_event_unwritten bit.
  if (r && version == 2 && r->leased_event_unwritten) return std::nullopt;
  return r;
}

std::optional<JobRecord> decode_job_fields(const JobId& id, std::string_view fields) {
  binary::Reader in(fields);
  JobRecord r;
  r.id = id;
  r.queue = in.text();
  const std::uint8_t state = in.byte();
  if (state >= kJobStateCount) return std::nullopt;
  r.state = static_cast<JobState>(state);
  const std::uint8_t parts = in.byte();
  if (parts & ~kAllJobParts) return std::nullopt;
  r.cancel_requested = parts & kCancelRequested;
  r.leased_event_unwritten = parts & kLeasedEventUnwritten;
  r.priority = in.integer<int>();
  r.attempt = in.integer<int>();
  r.max_attempts = in.integer<int>();
  r.backoff.initial_ms = in.svarint();
  r.backoff.multiplier = in.real();
  r.backoff.max_ms = in.svarint();
  r.backoff.jitter = in.real();
  r.lease_ms = in.svarint();
  r.granted_lease_ms = in.svarint();
  r.created_at = in.svarint();
  r.run_at = in.svarint();
  r.started_at = in.optional();
  r.finished_at = in.optional();
  r.lease_expires_at = in.optional();
  r.deadline = in.optional();
  r.worker = in.text();
  r.lease_token = in.text();
  r.progress_json = in.text();
  r.idempotency_key = in.text();
  const std::uint64_t tags = in.uvarint();
  if (tags > fields.size()) return std::nullopt;  // each tag takes at least a byte
  for (std::uint64_t i = 0; i < tags && in.ok(); ++i) r.tags.push_back(in.text());
  r.traceparent = in.text();
  r.payload_hash = in.uvarint();
  const std::uint64_t seq = in.uvarint();
  if (seq > UINT32_MAX) return std::nullopt;
  r.timeline_seq = static_cast<std::uint32_t>(seq);
  if (parts & kHasError) {
    JobError e;
    e.message = in.text();
    e.type = in.text();
    e.detail = in.text();
    e.attempt = in.integer<int>();
    r.error = std::move(e);
  }
  if (parts & kHasFlow) {
    FlowRef f;
    const std::string_view flow_id = in.fixed(16);
    if (!in.ok()) return std::nullopt;
    f.id = JobId::from_raw(flow_id);
    f.step = in.text();
    f.compensating = in.flag();
    r.flow = std::move(f);
  }
  if (!in.ok() || !in.at_end()) return std::nullopt;
  return r;
}

std::optional<JobFieldsHead> peek_job_fields(std::string_view fields) {
  binary::Reader in(fields);
  JobFieldsHead head;
  head.queue = in.fixed(in.uvarint());
  const std::uint8_t state = in.byte();
  if (!in.ok() || state >= kJobStateCount) return std::nullopt;
  head.state = static_cast<JobState>(state);
  return head;
}

std::string encode_queue(const QueueState& q) {
  std::string out;
  binary::Writer w(out);
  w.byte(kQueueFormatVersion);
  w.flag(q.paused);
  w.svarint(q.max_queued);
  w.svarint(q.enqueued_total);
  w.svarint(q.succeeded_total);
  w.svarint(q.failed_total);
  return out;
}

bool decode_queue(std::string_view value, QueueState& q) {
  if (!value.empty() && value[0] == kJsonRecordStart) return decode_queue_v1(value, q);
  binary::Reader in(value);
  if (in.byte() != kQueueFormatVersion) return false;
  const bool paused = in.flag();
  const std::int64_t max_queued = in.svarint();
  const std::int64_t enqueued = in.svarint();
  const std::int64_t succeeded = in.svarint();
  const std::int64_t failed = in.svarint();
  if (!in.ok() || !in.at_end()) return false;
  q.paused = paused;
  q.max_queued = max_queued;
  q.enqueued_total = enqueued;
  q.succeeded_total = succeeded;
  q.failed_total = failed;
  return true;
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
