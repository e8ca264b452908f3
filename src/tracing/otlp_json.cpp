#include "tracing/otlp_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace errand::tracing {
namespace {

namespace json = boost::json;

json::object attribute(const std::string& key, const SpanAttribute::Value& value) {
  json::object v;
  if (const auto* s = std::get_if<std::string>(&value)) {
    v["stringValue"] = *s;
  } else {
    v["intValue"] = std::to_string(std::get<std::int64_t>(value));
  }
  return {{"key", key}, {"value", std::move(v)}};
}

json::array attributes(const std::vector<SpanAttribute>& list) {
  json::array out;
  out.reserve(list.size());
  for (const auto& a : list) out.push_back(attribute(a.key, a.value));
  return out;
}

json::object span_json(const Span& s) {
  json::object o;
  o["traceId"] = s.trace_id;
  o["spanId"] = s.span_id;
  if (!s.parent_span_id.empty()) o["parentSpanId"] = s.parent_span_id;
  o["name"] = s.name;
  o["kind"] = static_cast<int>(s.kind);
  o["startTimeUnixNano"] = std::to_string(s.start_unix_nano);
  o["endTimeUnixNano"] = std::to_string(s.end_unix_nano);
  o["attributes"] = attributes(s.attributes);
  json::object status{{"code", static_cast<int>(s.status)}};
  if (!s.status_message.empty()) status["message"] = s.status_message;
  o["status"] = std::move(status);
  return o;
}

}  // namespace

std::string otlp_json(std::span<const Span> spans, const OtlpResource& resource) {
  std::vector<SpanAttribute> resource_attributes = {{"service.name", resource.service_name}};
  if (!resource.service_version.empty()) {
    resource_attributes.push_back({"service.version", resource.service_version});
  }
  json::array span_list;
  span_list.reserve(spans.size());
  for (const auto& s : spans) span_list.push_back(span_json(s));
  json::object scope{{"name", "errand"}};
  if (!resource.service_version.empty()) scope["version"] = resource.service_version;
  const json::object scope_spans{{"scope", std::move(scope)}, {"spans", std::move(span_list)}};
  const json::object resource_spans{
      {"resource", json::object{{"attributes", attributes(resource_attributes)}}},
      {"scopeSpans", json::array{scope_spans}}};
  return json::serialize(json::object{{"resourceSpans", json::array{resource_spans}}});
}

}  // namespace errand::tracing
