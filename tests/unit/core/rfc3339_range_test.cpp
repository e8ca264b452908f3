// Found by fuzz_job_json (fuzz/corpus/fuzz_job_json/regression-time-outside-years-0000-9999):
// a run_at of 0000-01-01T00:00:00+00:01 was accepted, and the job document
// then showed it as "-001-12-31T23:59:00.000Z", which no client can parse.
#include <gtest/gtest.h>

#include <optional>

#include "core/time.hpp"

namespace errand {
namespace {

TEST(Rfc3339, RefusesOffsetsThatCarryATimeOutOfYears0000To9999) {
  EXPECT_EQ(parse_rfc3339("0000-01-01T00:00:00+00:01"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("0000-01-01T00:00:00.000+23:59"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59.999-00:01"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59.999-23:59"), std::nullopt);
}

TEST(Rfc3339, AcceptsTheFirstAndLastMillisecondOfYears0000To9999) {
  EXPECT_EQ(parse_rfc3339("0000-01-01T00:00:00.000Z"), -62'167'219'200'000);
  EXPECT_EQ(parse_rfc3339("0000-01-01T00:01:00+00:01"), -62'167'219'200'000);
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59.999Z"), 253'402'300'799'999);
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:58:59.999-00:01"), 253'402'300'799'999);
}

TEST(Rfc3339, WhateverParsesFormatsBackToTheSameTime) {
  for (const char* text : {"0000-01-01T00:01:00+00:01", "9999-12-31T00:00:00-23:59",
                           "1969-12-31T23:59:59.999Z", "2024-02-29T12:00:00+14:00"}) {
    const auto t = parse_rfc3339(text);
    ASSERT_TRUE(t.has_value()) << text;
    EXPECT_EQ(parse_rfc3339(format_rfc3339(*t)), t) << text << " -> " << format_rfc3339(*t);
  }
}

}  // namespace
}  // namespace errand
