// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent`
// a submitter sends with a job, parsed into the ids that logs and the
// OpenTelemetry export need.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace errand {

struct TraceContext {
  std::string trace_id;        // 32 lower-case hex digits, not all zero
  std::string parent_span_id;  // 16 lower-case hex digits, not all zero
  std::uint8_t flags = 0;      // bit 0: sampled

  bool sampled() const { return (flags & 1) != 0; }
  // "00-<trace_id>-<parent_span_id>-<flags>".
  std::string to_traceparent() const;
};

// The context of a version-00 traceparent ("00-<32 hex>-<16 hex>-<2 hex>",
// lower case, ids not all zero); nullopt for anything else, which Trace
// Context says to ignore.
std::optional<TraceContext> parse_traceparent(std::string_view text);

}  // namespace errand
