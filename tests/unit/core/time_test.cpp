#include "core/time.hpp"

#include <gtest/gtest.h>

#include <optional>

namespace errand {
namespace {

constexpr Millis kNov27 = 1'795'778'599'123;  // 2026-11-27T11:23:19.123Z

std::optional<Millis> parse(const char* text) { return parse_rfc3339(text); }

TEST(Rfc3339, ParsesUtcWithZ) {
  EXPECT_EQ(parse("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse("2026-11-27T11:23:19Z"), kNov27 - 123);
  EXPECT_EQ(parse("2026-11-27T11:23:19.123Z"), kNov27);
}

TEST(Rfc3339, AcceptsLowerCaseTAndZ) { EXPECT_EQ(parse("2026-11-27t11:23:19.123z"), kNov27); }

TEST(Rfc3339, AppliesPositiveAndNegativeOffsets) {
  EXPECT_EQ(parse("2026-11-27T12:23:19.123+01:00"), kNov27);
  EXPECT_EQ(parse("2026-11-27T06:23:19.123-05:00"), kNov27);
  EXPECT_EQ(parse("2026-11-27T16:53:19.123+05:30"), kNov27);
  EXPECT_EQ(parse("2026-11-27T11:23:19.123+00:00"), kNov27);
  EXPECT_EQ(parse("2026-11-27T11:23:19.123-00:00"), kNov27);
  EXPECT_EQ(parse("1970-01-01T01:00:00+01:00"), 0);
}

TEST(Rfc3339, OffsetsCrossDayAndYearBoundaries) {
  EXPECT_EQ(parse("1999-12-31T23:00:00-01:00"), parse("2000-01-01T00:00:00Z"));
  EXPECT_EQ(parse("2000-01-01T00:30:00+01:00"), parse("1999-12-31T23:30:00Z"));
}

TEST(Rfc3339, ReadsFractionsOfAnyLengthToMilliseconds) {
  EXPECT_EQ(parse("1970-01-01T00:00:00.5Z"), 500);
  EXPECT_EQ(parse("1970-01-01T00:00:00.05Z"), 50);
  EXPECT_EQ(parse("1970-01-01T00:00:00.123Z"), 123);
  EXPECT_EQ(parse("1970-01-01T00:00:00.123999999Z"), 123);  // truncated, not rounded
  EXPECT_EQ(parse("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(parse("1970-01-01T00:00:01.9+00:00"), 1900);
}

TEST(Rfc3339, AcceptsLeapDaysOnlyInLeapYears) {
  EXPECT_EQ(parse("2024-02-29T12:00:00Z"), 1'709'208'000'000);
  EXPECT_EQ(parse("2000-02-29T00:00:00Z"), 951'782'400'000);  // divisible by 400
  EXPECT_FALSE(parse("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(parse("1900-02-29T00:00:00Z"));  // divisible by 100, not 400
  EXPECT_FALSE(parse("2100-02-29T00:00:00Z"));
  EXPECT_FALSE(parse("2024-02-30T00:00:00Z"));
}

TEST(Rfc3339, RejectsImpossibleDatesAndTimes) {
  for (const char* bad : {
           "2026-00-10T00:00:00Z",
           "2026-13-10T00:00:00Z",
           "2026-01-00T00:00:00Z",
           "2026-01-32T00:00:00Z",
           "2026-04-31T00:00:00Z",
           "2026-06-31T00:00:00Z",
           "2026-09-31T00:00:00Z",
           "2026-11-31T00:00:00Z",
           "2026-01-01T24:00:00Z",
           "2026-01-01T23:60:00Z",
           "2026-01-01T23:59:61Z",
           "2026-01-01T00:00:00+24:00",
           "2026-01-01T00:00:00+01:60",
       }) {
    EXPECT_FALSE(parse(bad)) << bad;
  }
}

TEST(Rfc3339, HoldsALeapSecondAtFiftyNine) {
  EXPECT_EQ(parse("2016-12-31T23:59:60Z"), parse("2016-12-31T23:59:59Z"));
}

TEST(Rfc3339, RejectsGarbageAndIncompleteText) {
  for (const char* bad : {
           "", "now", "2026",
           "2026-11-27",                                // date only
           "2026-11-27T11:23Z",                         // no seconds
           "2026-11-27T11:23:19",                       // no offset
           "2026-11-27 11:23:19Z",                      // space instead of T
           "2026-11-27T11:23:19.Z",                     // a dot without digits
           "2026-11-27T11:23:19+0100",                  // offset without colon
           "2026-11-27T11:23:19+01",                    // offset without minutes
           "26-11-27T11:23:19Z",                        // two-digit year
           "2026-1-27T11:23:19Z",                       // one-digit month
           "2026/11/27T11:23:19Z",                      // wrong separators
           "+2026-11-27T11:23:19Z",                     // sign before the year
           "2026-11-27T11:23:19.123 Z",                 // space before the zone
           "\xef\xbc\x92\x30\x32\x36-11-27T11:23:19Z",  // a full-width digit
       }) {
    EXPECT_FALSE(parse(bad)) << '"' << bad << '"';
  }
}

TEST(Rfc3339, RejectsTrailingJunk) {
  for (const char* bad :
       {"2026-11-27T11:23:19Z ", "2026-11-27T11:23:19ZZ", "2026-11-27T11:23:19+01:00x",
        "2026-11-27T11:23:19.123Zjunk", "2026-11-27T11:23:19Z\n"}) {
    EXPECT_FALSE(parse(bad)) << '"' << bad << '"';
  }
}

TEST(Rfc3339, FormatsTheEpoch) { EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z"); }

TEST(Rfc3339, FormatsMillisecondsWithThreeDigits) {
  EXPECT_EQ(format_rfc3339(1), "1970-01-01T00:00:00.001Z");
  EXPECT_EQ(format_rfc3339(1234), "1970-01-01T00:00:01.234Z");
  EXPECT_EQ(format_rfc3339(kNov27), "2026-11-27T11:23:19.123Z");
}

TEST(Rfc3339, FormatsDatesBefore2000AndAfter2100) {
  EXPECT_EQ(format_rfc3339(946'684'799'999), "1999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(4'107'542'400'000), "2100-03-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(4'107'542'400'000 - 1), "2100-02-28T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(253'402'300'799'999), "9999-12-31T23:59:59.999Z");
}

TEST(Rfc3339, FormatThenParseRoundTrips) {
  for (Millis t :
       {Millis{0}, Millis{1}, Millis{999}, Millis{86'399'999}, Millis{951'782'400'000},
        Millis{946'684'799'999}, kNov27, Millis{4'107'542'400'000}, Millis{253'402'300'799'999}}) {
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << format_rfc3339(t);
  }
  // Every day of four years, at a different millisecond each.
  for (Millis day = 0; day < 4 * 366; ++day) {
    const Millis t = 1'577'836'800'000 + day * 86'400'000 + day * 997 % 86'400'000;
    ASSERT_EQ(parse_rfc3339(format_rfc3339(t)), t) << format_rfc3339(t);
  }
}

TEST(Rfc3339, ParseThenFormatNormalisesToUtcMillis) {
  EXPECT_EQ(format_rfc3339(*parse("2026-11-27T12:23:19.1234+01:00")), "2026-11-27T11:23:19.123Z");
}

// parse_rfc3339 accepts dates before 1970 (a client may send such a deadline),
// so what it yields must format back, although time.hpp only promises
// format_rfc3339 for t >= 0.
TEST(Rfc3339, DatesBeforeTheEpochRoundTrip) {
  EXPECT_EQ(parse("1969-12-31T23:59:59.999Z"), -1);
  EXPECT_EQ(parse("1969-07-20T20:17:40Z"), -14'182'940'000);
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(-14'182'940'000), "1969-07-20T20:17:40.000Z");
  EXPECT_EQ(format_rfc3339(-62'167'219'200'000), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(parse("0000-01-01T00:00:00Z"), -62'167'219'200'000);
}

TEST(Clock, NowIsAfter2020AndMonotoneEnough) {
  const Millis a = now_millis();
  const Millis b = now_millis();
  EXPECT_GT(a, 1'577'836'800'000);  // 2020-01-01
  EXPECT_GE(b, a);
}

}  // namespace
}  // namespace errand
