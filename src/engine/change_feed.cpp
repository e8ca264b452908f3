#include "engine/change_feed.hpp"

namespace errand {

StateChange state_change(const JobRecord& r, std::optional<JobState> from,
                         std::optional<JobState> to, Millis at) {
  StateChange c;
  c.id = r.id;
  c.queue = r.queue;
  c.from = from;
  c.to = to;
  c.at = at;
  c.attempt = r.attempt;
  c.worker = r.worker;
  if (r.error) c.error_type = r.error->type;
  c.created_at = r.created_at;
  c.run_at = r.run_at;
  c.started_at = r.started_at;
  c.traceparent = r.traceparent;
  return c;
}

}  // namespace errand
