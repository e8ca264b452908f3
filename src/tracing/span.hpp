// A finished span, as errand exports it: the part of the OpenTelemetry span
// model (https://opentelemetry.io/docs/specs/otel/trace/api/) that a job's
// timeline needs. A plain value.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace errand::tracing {

// The numbers are OTLP's (opentelemetry/proto/trace/v1/trace.proto).
enum class SpanKind : int { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };
enum class SpanStatus : int { kUnset = 0, kOk = 1, kError = 2 };

struct SpanAttribute {
  using Value = std::variant<std::string, std::int64_t>;
  std::string key;
  Value value;

  bool operator==(const SpanAttribute&) const = default;
};

struct Span {
  std::string trace_id;        // 32 lower-case hex digits
  std::string span_id;         // 16 lower-case hex digits, not all zero
  std::string parent_span_id;  // empty for a root span
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;  // >= start_unix_nano
  SpanStatus status = SpanStatus::kUnset;
  std::string status_message;  // only with kError
  std::vector<SpanAttribute> attributes;

  // The attribute `key`, or nullptr.
  const SpanAttribute* attribute(const std::string& key) const {
    for (const auto& a : attributes) {
      if (a.key == key) return &a;
    }
    return nullptr;
  }
};

}  // namespace errand::tracing
