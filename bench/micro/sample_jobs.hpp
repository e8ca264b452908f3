// Realistic inputs shared by the micro-benchmarks: the 100-byte payload of
// SPEC §6 and job records shaped like the ones a busy server holds (tags, an
// idempotency key, a trace context), so that encoders and indexes are timed
// on the sizes they see in production rather than on empty structs.
#pragma once

#include <string>
#include <string_view>

#include "core/job.hpp"

namespace errand::micro {

// The fixed instant every sample is built at: results must not depend on
// the clock of the run.
inline constexpr Millis kSampleNow = 1'795'000'000'000;
// The queue every sample job is in.
inline constexpr std::string_view kSampleQueue = "emails";

// 100 bytes, as the peers harness sends ('x' * 100).
std::string payload_100();
// The same payload as the JSON text the store keeps (a quoted string).
std::string payload_100_json();

// A job just submitted: queued, three tags, an idempotency key, a traceparent.
JobRecord queued_record(const JobId& id);
// The same job leased by a worker: running, with a lease token and expiry.
JobRecord running_record(const JobId& id);

}  // namespace errand::micro
