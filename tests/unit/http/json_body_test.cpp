// parse_json_body: what a request body must be to reach a handler as JSON,
// and how fast the hostile ones are refused (docs/reliability.md, "Hostile HTTP").
#include "api/json_body.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace errand::api {
namespace {

Result<json::value> parse(std::string body, std::string content_type = "application/json") {
  http::Request request;
  request.method = "POST";
  request.body = std::move(body);
  if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
  return parse_json_body(request);
}

// The message of a refused body (which must be a 400).
std::string refusal(std::string body) {
  const auto result = parse(std::move(body));
  EXPECT_FALSE(result.is_ok());
  if (result.is_ok()) return {};
  EXPECT_EQ(result.status().code(), Code::kInvalidArgument);
  return result.status().message();
}

std::string nested_arrays(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

TEST(JsonBody, ParsesAnObjectWithEveryKindOfValue) {
  const auto result = parse(R"({"a":[1,-2,3.5,"x\u00e9",true,null,{}],"b":18446744073709551615})");
  ASSERT_TRUE(result.is_ok()) << result.status().message();
  EXPECT_EQ(result->at("a").as_array().size(), 7u);
  EXPECT_EQ(result->at("b").as_uint64(), 18446744073709551615u);
}

TEST(JsonBody, DepthSixtyFourIsAcceptedAndSixtyFiveRefused) {
  EXPECT_TRUE(parse(nested_arrays(kMaxJsonDepth)).is_ok());
  EXPECT_NE(refusal(nested_arrays(kMaxJsonDepth + 1)).find("deeper than 64"), std::string::npos);
}

TEST(JsonBody, AHundredThousandOpenBracketsAreRefusedAtOnce) {
  const auto started = std::chrono::steady_clock::now();
  EXPECT_NE(refusal(std::string(100'000, '[')).find("deeper than 64"), std::string::npos);
  EXPECT_NE(refusal(std::string(100'000, '{')).find("not valid JSON"), std::string::npos);
  // Generous: it is about not recursing or scanning on, not about speed.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(JsonBody, DuplicateKeysAreRefusedAtAnyDepth) {
  EXPECT_NE(refusal(R"({"payload":1,"payload":2})").find(R"(duplicate key "payload")"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"payload":{"a":[{"k":1,"k":1}]}})").find(R"(duplicate key "k")"),
            std::string::npos);
  // The same key written two ways is the same key.
  EXPECT_NE(refusal(R"({"ab":1,"\u0061b":2})").find("duplicate key"), std::string::npos);
  // The same name in different objects, or after an object closed, is fine.
  EXPECT_TRUE(parse(R"({"a":{"a":1},"b":{"a":2},"c":[{"a":3},{"a":4}]})").is_ok());
}

TEST(JsonBody, DuplicatesAreFoundAmongManyKeys) {
  std::string body = "{";
  for (int i = 0; i < 100'000; ++i) body += "\"k" + std::to_string(i) + "\":0,";
  const std::string distinct = body.substr(0, body.size() - 1) + "}";
  const auto started = std::chrono::steady_clock::now();
  const auto result = parse(distinct);
  ASSERT_TRUE(result.is_ok()) << result.status().message();
  EXPECT_EQ(result->as_object().size(), 100'000u);
  EXPECT_NE(refusal(body + "\"k99999\":1}").find(R"(duplicate key "k99999")"), std::string::npos);
  // Milliseconds in a release build, seconds under ThreadSanitizer; a
  // quadratic search would take minutes.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
}

TEST(JsonBody, NumbersBeyondADoubleAreRefused) {
  for (const char* body : {"1e999999", "-1e400", R"({"payload":[1e309]})"}) {
    EXPECT_NE(refusal(body).find("number out of range"), std::string::npos) << body;
  }
  // Tiny numbers round to zero, as everywhere; big integers become doubles.
  EXPECT_TRUE(parse("1e-999999").is_ok());
  EXPECT_TRUE(parse("123456789012345678901234567890").is_ok());
  EXPECT_TRUE(parse("1.7976931348623157e308").is_ok());
}

TEST(JsonBody, InvalidUtf8AndLoneSurrogatesAreRefused) {
  EXPECT_NE(refusal("{\"payload\":\"\xff\"}").find("not valid UTF-8"), std::string::npos);
  EXPECT_NE(refusal("{\"payload\":\"\xc0\xaf\"}").find("not valid UTF-8"), std::string::npos);
  for (const char* body : {R"("\ud800")", R"("\udc00")", R"("\ud800x")", R"("\ud800\u0041")"}) {
    EXPECT_FALSE(parse(body).is_ok()) << body;
  }
  EXPECT_TRUE(parse(R"("\ud83d\ude00")").is_ok());  // a proper pair
}

TEST(JsonBody, MalformedBodiesNameWhereTheyWentWrong) {
  EXPECT_NE(refusal(R"({"payload":1} x)").find("at byte"), std::string::npos);
  EXPECT_NE(refusal("").find("needs a JSON body"), std::string::npos);
  EXPECT_FALSE(parse("{\"payload\":1,}").is_ok());
  EXPECT_FALSE(parse("{/*comment*/}").is_ok());
}

TEST(JsonBody, NonJsonContentTypeIs415) {
  const auto result = parse("{}", "application/xml");
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), Code::kUnsupportedMediaType);
  EXPECT_TRUE(parse("{}", "application/json; charset=utf-8").is_ok());
  EXPECT_TRUE(parse("{}", "").is_ok());
}

}  // namespace
}  // namespace errand::api
