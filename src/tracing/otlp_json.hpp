// The body of an OTLP/HTTP trace export in its JSON encoding: an
// ExportTraceServiceRequest (opentelemetry/proto/collector/trace/v1) with one
// resource (this server) and one instrumentation scope ("errand"). As the
// OTLP JSON mapping asks (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
// ids are hex strings, times and 64-bit integers decimal strings, enums
// numbers, and field names lowerCamelCase.
//
// Pure.
#pragma once

#include <span>
#include <string>

#include "tracing/span.hpp"

namespace errand::tracing {

// Who sends the spans: the resource attributes service.name and
// service.version.
struct OtlpResource {
  std::string service_name = "errand";
  std::string service_version;  // empty: not sent
};

std::string otlp_json(std::span<const Span> spans, const OtlpResource& resource);

}  // namespace errand::tracing
