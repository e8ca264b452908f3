// The JSON documents of SPEC §1 and §3: what a job, a leased job and a queue
// look like on the wire, and how a submitted job body becomes a SubmitSpec.
// A flow's are in flow_documents.hpp.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "engine/broker.hpp"

namespace errand::api {

// The longest delay, ttl or backoff a request may ask for: one year.
inline constexpr std::int64_t kMaxDurationMs = 365LL * 24 * 3600 * 1000;

// The job document: every field present, absent values null.
std::string job_document(const JobView& job);
// A job as a worker receives it from POST /v1/leases.
std::string leased_job_document(const JobView& job);
std::string queue_document(const QueueStats& q);

// Reads one job body of a submit or batch. `prefix` names it in errors
// ("jobs[3]."). `now` turns delay_ms and ttl_ms into times. `also` lists
// members the caller reads itself (a flow step's "queue", "after"...).
Result<SubmitSpec> parse_submit(const boost::json::object& body, std::string queue, Millis now,
                                const std::string& prefix = "",
                                std::initializer_list<std::string_view> also = {});

// 400 for a queue name that breaks SPEC §1's rule; `field` names where it
// was given ("steps.charge.queue"), or is empty for a path.
Status invalid_queue_name(const std::string& name, const std::string& field = "");

// Pieces of documents: absent values are null, never missing.
std::string time_or_null(const std::optional<Millis>& t);
std::string string_or_null(const std::string& s);
// JSON text as it is, or "null" for none (""). A view of `json` or of a literal.
std::string_view raw_or_null(std::string_view json);
std::string string_array(const std::vector<std::string>& strings);
// The same, appended to `out`.
void append_time_or_null(std::string& out, const std::optional<Millis>& t);
void append_string_or_null(std::string& out, std::string_view s);
void append_string_array(std::string& out, const std::vector<std::string>& strings);

}  // namespace errand::api
