#include "logging/job_log.hpp"

#include <vector>

#include "core/time.hpp"
#include "core/trace_context.hpp"

namespace errand::log {

JobLine job_line(const StateChange& c) {
  using S = JobState;
  if (!c.from) return {Level::kDebug, "job submitted"};
  if (!c.to) return {Level::kDebug, "job removed"};
  const S from = *c.from;
  const S to = *c.to;
  switch (to) {
    case S::kRunning:
      return {Level::kDebug, "job leased"};
    case S::kSucceeded:
      return {Level::kDebug, "job succeeded"};
    case S::kFailed:
      return {Level::kError, "job failed for good (dead letter)"};
    case S::kExpired:
      return {Level::kWarn, "job expired"};
    case S::kCancelled:
      return {Level::kInfo, "job cancelled"};
    case S::kQueued:
    case S::kScheduled:
      if (from == S::kRunning) {
        return {Level::kWarn, c.error_type == "lease_expired" ? "job lease expired, will retry"
                                                              : "job attempt failed, will retry"};
      }
      if (is_terminal(from)) return {Level::kInfo, "job retried"};
      return {Level::kDebug, to == S::kQueued ? "job ready" : "job rescheduled"};
  }
  return {Level::kDebug, "job changed"};
}

void write_job_line(const StateChange& c) {
  const JobLine line = job_line(c);
  if (!enabled(line.level)) return;
  const std::string id = c.id.to_string();
  const std::optional<TraceContext> trace = parse_traceparent(c.traceparent);
  std::string retry_at;
  std::vector<Field> fields{{"job", id}, {"queue", c.queue}};
  if (trace) fields.emplace_back("trace_id", trace->trace_id);
  fields.emplace_back("attempt", c.attempt);
  if (c.from) fields.emplace_back("from", to_string(*c.from));
  if (c.to) fields.emplace_back("to", to_string(*c.to));
  if (!c.worker.empty() && c.from && (c.to == JobState::kRunning || c.from == JobState::kRunning)) {
    fields.emplace_back("worker", c.worker);
  }
  if (!c.error_type.empty() && c.to && c.to != JobState::kRunning && c.to != JobState::kSucceeded) {
    fields.emplace_back("error_type", c.error_type);
  }
  if (c.to == JobState::kScheduled) {
    retry_at = format_rfc3339(c.run_at);
    fields.emplace_back("run_at", retry_at);
  }
  write(line.level, line.message, fields);
}

JobLog::JobLog(ChangeFeed& feed)
    : feed_(feed), subscription_(feed.subscribe([](std::span<const StateChange> changes) {
        for (const StateChange& c : changes) write_job_line(c);
      })) {}

JobLog::~JobLog() { feed_.unsubscribe(subscription_); }

}  // namespace errand::log
