// The JSON side of Client: request bodies built from the public option
// structs, and the server's documents read into the public value types.
// Boost.JSON stays behind this header (and out of include/errand/).
#pragma once

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "errand/types.hpp"

namespace errand::client_detail {

// Throws errand::Error (kUsage) unless `text` is exactly one JSON value;
// `what` names it in the message ("payload", "result"...).
void require_json(std::string_view text, std::string_view what);

// Parses the body of an answer; throws errand::Error (kProtocol) naming
// `context` when it is not JSON.
boost::json::value parse_answer(std::string_view body, std::string_view context);

// The member of an answer object; throws kProtocol naming `context` when the
// answer is not an object or lacks it.
const boost::json::value& member(const boost::json::value& answer, std::string_view name,
                                 std::string_view context);

Job job_from(const boost::json::value& doc, std::string json);
LeasedJob leased_job_from(const boost::json::value& doc);
// The "flow" member of a leased job; nullopt when it is absent or null.
std::optional<JobFlow> job_flow_from(const boost::json::value* flow);
Flow flow_from(const boost::json::value& doc, std::string json);
Queue queue_from(const boost::json::value& doc);
Event event_from(const boost::json::value& doc, std::string json);

// The body of a submit, or of one job in a batch. REQUIRES: payload is JSON.
std::string submit_body(std::string_view payload, const SubmitOptions& options);
std::string lease_body(const LeaseRequest& request);
std::string fail_body(std::string_view lease, const FailRequest& failure);
std::string heartbeat_body(std::string_view lease, const std::optional<Progress>& progress,
                           std::optional<std::int64_t> lease_ms);
// A JSON string literal.
std::string quoted(std::string_view s);

// One line for an error answer: "404 Not Found: no job 0190..." from a
// problem+json body, or the status and reason when the body is something else.
std::string problem_message(int status, std::string_view reason, std::string_view body);

}  // namespace errand::client_detail
