#include "tracing/otlp_json.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace errand::tracing {
namespace {

namespace json = boost::json;

Span job_span() {
  Span s;
  s.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  s.span_id = "1111111111111111";
  s.parent_span_id = "00f067aa0ba902b7";
  s.name = "job \"orders\" \xc3\xa9";  // quotes and UTF-8 survive
  s.kind = SpanKind::kProducer;
  s.start_unix_nano = 1'700'000'000'000'000'000ull;
  s.end_unix_nano = 1'700'000'000'250'000'000ull;
  s.status = SpanStatus::kError;
  s.status_message = "Timeout";
  s.attributes = {{"messaging.system", std::string("errand")},
                  {"errand.job.attempts", std::int64_t{3}}};
  return s;
}

Span root_span() {
  Span s;
  s.trace_id = "0192f5c46e1a7b3c9d2e4f5a6b7c8d9e";
  s.span_id = "2222222222222222";
  s.name = "job q";
  s.kind = SpanKind::kConsumer;
  return s;
}

// The attribute list [{key, value: {...}}] as key -> value object.
json::object attribute_map(const json::value& list) {
  json::object out;
  for (const auto& a : list.as_array()) {
    out[a.at("key").as_string()] = a.at("value");
  }
  return out;
}

TEST(OtlpJson, IsAnExportTraceServiceRequest) {
  const std::vector<Span> spans = {job_span(), root_span()};
  const json::value body =
      json::parse(otlp_json(spans, {.service_name = "errand-test", .service_version = "1.2.3"}));

  const auto& resource_spans = body.at("resourceSpans").as_array();
  ASSERT_EQ(resource_spans.size(), 1u);
  const auto resource = attribute_map(resource_spans[0].at("resource").at("attributes"));
  EXPECT_EQ(resource.at("service.name").at("stringValue"), "errand-test");
  EXPECT_EQ(resource.at("service.version").at("stringValue"), "1.2.3");

  const auto& scope_spans = resource_spans[0].at("scopeSpans").as_array();
  ASSERT_EQ(scope_spans.size(), 1u);
  EXPECT_EQ(scope_spans[0].at("scope").at("name"), "errand");
  const auto& list = scope_spans[0].at("spans").as_array();
  ASSERT_EQ(list.size(), 2u);

  const auto& s = list[0].as_object();
  EXPECT_EQ(s.at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(s.at("spanId"), "1111111111111111");
  EXPECT_EQ(s.at("parentSpanId"), "00f067aa0ba902b7");
  EXPECT_EQ(s.at("name"), "job \"orders\" \xc3\xa9");
  EXPECT_EQ(s.at("kind"), 4);
  EXPECT_EQ(s.at("startTimeUnixNano"), "1700000000000000000") << "64-bit: a decimal string";
  EXPECT_EQ(s.at("endTimeUnixNano"), "1700000000250000000");
  EXPECT_EQ(s.at("status").at("code"), 2);
  EXPECT_EQ(s.at("status").at("message"), "Timeout");
  const auto attrs = attribute_map(s.at("attributes"));
  EXPECT_EQ(attrs.at("messaging.system").at("stringValue"), "errand");
  EXPECT_EQ(attrs.at("errand.job.attempts").at("intValue"), "3");

  const auto& root = list[1].as_object();
  EXPECT_FALSE(root.contains("parentSpanId")) << "a root span has no parent";
  EXPECT_EQ(root.at("kind"), 5);
  EXPECT_EQ(root.at("status").at("code"), 0);
  EXPECT_FALSE(root.at("status").as_object().contains("message"));
  EXPECT_EQ(root.at("startTimeUnixNano"), "0");
}

TEST(OtlpJson, LeavesOutAnEmptyVersion) {
  const json::value body = json::parse(otlp_json({}, {.service_name = "errand"}));
  const auto& rs = body.at("resourceSpans").at(0);
  const auto resource = attribute_map(rs.at("resource").at("attributes"));
  EXPECT_EQ(resource.at("service.name").at("stringValue"), "errand");
  EXPECT_FALSE(resource.contains("service.version"));
  EXPECT_TRUE(rs.at("scopeSpans").at(0).at("spans").as_array().empty());
}

}  // namespace
}  // namespace errand::tracing
