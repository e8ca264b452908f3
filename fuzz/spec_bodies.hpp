// The other way round from api/documents.hpp's parse_submit and
// api/flow_documents.hpp's parse_flow: a SubmitSpec or FlowSpec written back
// as the request body that asks for it, and field-by-field comparison, for
// fuzz_job_json's round trips. Not part of errand.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

#include "engine/flow.hpp"
#include "engine/submit_spec.hpp"

namespace errand::fuzz {

// `text` read as the API reads a body (parse_json_body: numbers correctly
// rounded, which json::parse does not promise). REQUIRES: valid JSON.
boost::json::value parse_as_api(std::string_view text);

// A submit body asking for `spec`: times as RFC 3339 (run_at, deadline),
// idempotency_key only when set. Leaves out the queue (the path's).
boost::json::object submit_body(const SubmitSpec& spec);

// A POST /v1/flows body asking for `spec`, its deadline as a ttl_ms from `now`.
boost::json::object flow_body(const FlowSpec& spec, Millis now);

// What differs between two specs, as "field: a != b"; empty when nothing does.
// Compares the fields a submit sets (not traceparent nor flow).
std::string differences(const SubmitSpec& a, const SubmitSpec& b);
std::string differences(const FlowSpec& a, const FlowSpec& b);

}  // namespace errand::fuzz
