#include "tracing/job_spans.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/fingerprint.hpp"
#include "core/trace_context.hpp"

namespace errand::tracing {
namespace {

constexpr std::uint64_t kNanosPerMilli = 1'000'000;
// OpenTelemetry's error.type when the worker named none.
constexpr const char* kOtherError = "_OTHER";

std::string hex(const std::uint8_t* bytes, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

// splitmix64's finaliser: FNV-1a alone spreads short keys that differ in
// their last bytes poorly over the high bits.
std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

// The id of the span of `kind` of job `id`: the attempt and the start keep
// apart the spans of a job that an operator retried (its attempts count
// from 1 again).
std::string span_id(const JobId& id, std::string_view kind, int attempt, Millis start) {
  std::string key(id.raw());
  key += kind;
  key += '/' + std::to_string(attempt) + '/' + std::to_string(start);
  std::uint64_t h = mix(fingerprint(key));
  if (h == 0) h = 1;  // an all-zero span id is invalid
  std::uint8_t bytes[8];
  for (int i = 7; i >= 0; --i, h >>= 8) bytes[i] = static_cast<std::uint8_t>(h & 0xff);
  return hex(bytes, 8);
}

struct JobTrace {
  std::string trace_id;
  std::string parent_span_id;  // the submitter's span; empty for a trace of its own
};

// nullopt when the submitter said not to sample.
std::optional<JobTrace> trace_of(const StateChange& c) {
  if (auto ctx = parse_traceparent(c.traceparent)) {
    if (!ctx->sampled()) return std::nullopt;
    return JobTrace{std::move(ctx->trace_id), std::move(ctx->parent_span_id)};
  }
  return JobTrace{hex(c.id.bytes.data(), c.id.bytes.size()), {}};
}

bool sampled(const StateChange& c) {
  const auto ctx = parse_traceparent(c.traceparent);
  return !ctx || ctx->sampled();
}

// A job left the ready set: leased, or cancelled or expired before any
// worker took it. (One cancelled or expired while scheduled never waited.)
bool ends_wait(JobState from, JobState to) {
  return from == JobState::kQueued &&
         (to == JobState::kRunning || to == JobState::kCancelled || to == JobState::kExpired);
}

bool ends_attempt(JobState from) { return from == JobState::kRunning; }

bool ends_job(JobState to) { return is_terminal(to); }

std::uint64_t nanos(Millis t) {
  return static_cast<std::uint64_t>(std::max<Millis>(t, 0)) * kNanosPerMilli;
}

Span child(const StateChange& c, const JobTrace& t, std::string name, SpanKind kind,
           std::string_view id_kind, int attempt, Millis start) {
  Span s;
  s.trace_id = t.trace_id;
  s.span_id = span_id(c.id, id_kind, attempt, start);
  s.parent_span_id = job_span_id(c.id);
  s.name = std::move(name);
  s.kind = kind;
  s.start_unix_nano = nanos(start);
  s.end_unix_nano = nanos(c.at);
  s.attributes = {{"messaging.system", std::string("errand")},
                  {"messaging.destination.name", c.queue},
                  {"messaging.message.id", c.id.to_string()},
                  {"errand.attempt", std::int64_t{attempt}}};
  return s;
}

void set_error(Span& s, const std::string& type) {
  s.status = SpanStatus::kError;
  s.status_message = type.empty() ? kOtherError : type;
  s.attributes.push_back({"error.type", s.status_message});
}

Span wait_span(const StateChange& c, const JobTrace& t) {
  // The attempt that was waiting to run: a lease has counted it already.
  const int attempt = *c.to == JobState::kRunning ? c.attempt : c.attempt + 1;
  const Millis ready = std::min(std::max(c.run_at, c.created_at), c.at);
  return child(c, t, "queue wait", SpanKind::kInternal, "wait", attempt, ready);
}

Span attempt_span(const StateChange& c, const JobTrace& t) {
  const Millis start = std::min(c.started_at.value_or(c.at), c.at);
  Span s = child(c, t, "attempt " + std::to_string(c.attempt), SpanKind::kConsumer, "attempt",
                 c.attempt, start);
  s.attributes.push_back({"errand.worker", c.worker});
  if (*c.to == JobState::kSucceeded) {
    s.status = SpanStatus::kOk;
  } else {
    set_error(s, c.error_type);  // failed, lease expired, or given up after a cancel
  }
  return s;
}

Span job_span(const StateChange& c, const JobTrace& t) {
  Span s;
  s.trace_id = t.trace_id;
  s.span_id = job_span_id(c.id);
  s.parent_span_id = t.parent_span_id;
  s.name = "job " + c.queue;
  s.kind = SpanKind::kProducer;
  s.start_unix_nano = nanos(std::min(c.created_at, c.at));
  s.end_unix_nano = nanos(c.at);
  s.attributes = {{"messaging.system", std::string("errand")},
                  {"messaging.destination.name", c.queue},
                  {"messaging.message.id", c.id.to_string()},
                  {"errand.job.state", std::string(to_string(*c.to))},
                  {"errand.job.attempts", std::int64_t{c.attempt}}};
  switch (*c.to) {
    case JobState::kSucceeded:
      s.status = SpanStatus::kOk;
      break;
    case JobState::kFailed:
      set_error(s, c.error_type);
      break;
    case JobState::kExpired:
      set_error(s, "expired");
      break;
    default:  // cancelled: what someone asked for, not an error
      break;
  }
  return s;
}

}  // namespace

std::string job_span_id(const JobId& id) { return span_id(id, "job", 0, 0); }

std::size_t span_count(const StateChange& c) {
  if (!c.from || !c.to) return 0;
  const std::size_t n = static_cast<std::size_t>(ends_wait(*c.from, *c.to)) +
                        static_cast<std::size_t>(ends_attempt(*c.from)) +
                        static_cast<std::size_t>(ends_job(*c.to));
  return n > 0 && sampled(c) ? n : 0;
}

std::vector<Span> job_spans(const StateChange& c) {
  std::vector<Span> out;
  if (!c.from || !c.to) return out;
  const JobState from = *c.from;
  const JobState to = *c.to;
  if (!ends_wait(from, to) && !ends_attempt(from) && !ends_job(to)) return out;
  const auto trace = trace_of(c);
  if (!trace) return out;
  if (ends_wait(from, to)) out.push_back(wait_span(c, *trace));
  if (ends_attempt(from)) out.push_back(attempt_span(c, *trace));
  if (ends_job(to)) out.push_back(job_span(c, *trace));
  return out;
}

}  // namespace errand::tracing
