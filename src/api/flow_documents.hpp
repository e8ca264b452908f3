// The JSON of flows (SPEC §3 Flows, docs/api.md "Flows"): how a POST /v1/flows
// body becomes a FlowSpec, and what a flow looks like on the wire.
#pragma once

#include <boost/json/object.hpp>

#include <string>

#include "core/status.hpp"
#include "engine/flow.hpp"

namespace errand::api {

// The longest a flow's name may be.
inline constexpr std::size_t kMaxFlowNameLength = 256;

// Reads a flow body: its shape (validate_flow_shape), every step's job and
// compensation (the job fields of a submit, with errors naming
// "steps.<name>.<field>"), its idempotency_key and ttl_ms. `now` turns the
// ttl_ms of the flow and of its jobs into deadlines.
Result<FlowSpec> parse_flow(const boost::json::object& body, Millis now);

// The flow document: every field present, absent values null; steps in the
// order submitted.
std::string flow_document(const FlowView& flow);

}  // namespace errand::api
