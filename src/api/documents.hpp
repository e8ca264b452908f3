// The JSON documents of SPEC §1 and §3: what a job, a leased job and a queue
// look like on the wire, and how a submitted job body becomes a SubmitSpec.
#pragma once

#include <boost/json/object.hpp>

#include <string>

#include "core/status.hpp"
#include "engine/broker.hpp"

namespace errand::api {

// The job document: every field present, absent values null.
std::string job_document(const JobView& job);
// A job as a worker receives it from POST /v1/leases.
std::string leased_job_document(const JobView& job);
std::string queue_document(const QueueStats& q);

// Reads one job body of a submit or batch. `prefix` names it in errors
// ("jobs[3]."). `now` turns delay_ms and ttl_ms into times.
Result<SubmitSpec> parse_submit(const boost::json::object& body, std::string queue, Millis now,
                                const std::string& prefix = "");

}  // namespace errand::api
