// What a submit asks for: one job's fields, validated by the API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/job.hpp"

namespace errand {

struct SubmitSpec {
  std::string queue;
  std::string payload_json;  // validated JSON text, stored as received
  int priority = 0;
  std::optional<Millis> run_at;  // absolute; from delay_ms or run_at
  int max_attempts = kDefaultMaxAttempts;
  Backoff backoff;
  std::int64_t lease_ms = kDefaultLeaseMs;
  std::optional<Millis> deadline;  // absolute; from ttl_ms or deadline
  std::string idempotency_key;
  std::vector<std::string> tags;
  std::string traceparent;
  std::optional<FlowRef> flow;  // set by the broker for the jobs of a flow
  // Whether the answer needs the job's waiting_on. A caller that waits for
  // the job to end reads it again before it answers, and a store whose
  // waiting_on costs queries spares them.
  bool wants_waiting_on = true;
};

}  // namespace errand
