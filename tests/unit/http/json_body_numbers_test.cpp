// Found by fuzz_job_json (fuzz/corpus/fuzz_job_json/regression-payload-double-rounding):
// Boost.JSON 1.81 reads about one double in ten as its neighbour, so a
// payload's 0.11935319286735585 was stored, and handed to workers, as
// 0.11935319286735584. parse_json_body reads numbers correctly rounded.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>

#include "api/json_body.hpp"

namespace errand::api {
namespace {

double parsed_double(const std::string& text) {
  http::Request request;
  request.method = "POST";
  request.body = "[" + text + "]";
  const auto result = parse_json_body(request);
  EXPECT_TRUE(result.is_ok()) << result.status().message();
  return result.is_ok() ? result->as_array().at(0).to_number<double>() : 0;
}

TEST(JsonBodyNumbers, ReadsTheDoublesBoostRoundsWrongly) {
  for (const char* text : {"0.11935319286735585", "9.244073709518443E31",
                           "-92440737095184423372036854775808", "1.1935319286735585e-1"}) {
    EXPECT_EQ(parsed_double(text), std::strtod(text, nullptr)) << text;
  }
}

TEST(JsonBodyNumbers, EveryShortestDoubleReadsBackExactly) {
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<int> exponent(-300, 300);
  int wrong = 0;
  for (int i = 0; i < 20'000; ++i) {
    const double d = unit(random) * std::pow(10.0, exponent(random));
    char buf[64];
    const auto end = std::to_chars(buf, buf + sizeof buf, d).ptr;  // as JSON.stringify writes it
    if (parsed_double(std::string(buf, end)) != d) ++wrong;
  }
  EXPECT_EQ(wrong, 0);
}

TEST(JsonBodyNumbers, APayloadKeepsItsNumbersWhenWrittenBack) {
  http::Request request;
  request.method = "POST";
  request.body = R"({"x":0.11935319286735585})";
  auto result = parse_json_body(request);
  ASSERT_TRUE(result.is_ok());
  EXPECT_EQ(json::serialize(*result), R"({"x":1.1935319286735585E-1})");
}

}  // namespace
}  // namespace errand::api
