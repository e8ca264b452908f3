#include "sample_jobs.hpp"

namespace errand::micro {

std::string payload_100() { return std::string(100, 'x'); }

std::string payload_100_json() { return '"' + payload_100() + '"'; }

JobRecord queued_record(const JobId& id) {
  JobRecord r;
  r.id = id;
  r.queue = std::string(kSampleQueue);
  r.state = JobState::kQueued;
  r.created_at = kSampleNow;
  r.run_at = kSampleNow;
  r.idempotency_key = "order-8f14e45f-ceea-467f-a0e6-5c3b1e0f5f6a";
  r.tags = {"tenant:acme", "kind:welcome", "priority:normal"};
  r.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  r.payload_hash = 0x9e3779b97f4a7c15ull;
  r.timeline_seq = 1;
  return r;
}

JobRecord running_record(const JobId& id) {
  JobRecord r = queued_record(id);
  r.state = JobState::kRunning;
  r.attempt = 1;
  r.started_at = kSampleNow + 5;
  r.worker = "worker-7@host-3";
  r.lease_token = "3f9c0a7d51e24b68a0c4e7d2f1b85a69";
  r.lease_expires_at = kSampleNow + 5 + kDefaultLeaseMs;
  r.timeline_seq = 2;
  return r;
}

}  // namespace errand::micro
