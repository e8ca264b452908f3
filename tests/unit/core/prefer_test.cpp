#include "core/prefer.hpp"

#include <gtest/gtest.h>

#include <optional>

namespace errand {
namespace {

std::optional<long long> wait_ms(const char* header) { return parse_prefer_wait_ms(header); }

TEST(PreferWait, ReadsWholeSeconds) {
  EXPECT_EQ(wait_ms("wait=5"), 5000);
  EXPECT_EQ(wait_ms("wait=0"), 0);
  EXPECT_EQ(wait_ms("wait=60"), 60'000);
}

TEST(PreferWait, ReadsFractionsOfASecond) {
  EXPECT_EQ(wait_ms("wait=0.25"), 250);
  EXPECT_EQ(wait_ms("wait=1.5"), 1500);
  EXPECT_EQ(wait_ms("wait=0.0004"), 0);  // rounded to the nearest millisecond
  EXPECT_EQ(wait_ms("wait=0.0006"), 1);
}

TEST(PreferWait, FindsWaitAmongOtherPreferences) {
  EXPECT_EQ(wait_ms("respond-async, wait=3"), 3000);
  EXPECT_EQ(wait_ms("respond-async,wait=3"), 3000);
  EXPECT_EQ(wait_ms("handling=lenient, wait=2, return=minimal"), 2000);
  EXPECT_EQ(wait_ms("wait=4, respond-async"), 4000);
}

TEST(PreferWait, NameIsCaseInsensitive) {
  EXPECT_EQ(wait_ms("WAIT=2"), 2000);
  EXPECT_EQ(wait_ms("Wait=2"), 2000);
}

TEST(PreferWait, AcceptsAQuotedValue) { EXPECT_EQ(wait_ms("wait=\"7\""), 7000); }

TEST(PreferWait, TheFirstWaitPreferenceWins) { EXPECT_EQ(wait_ms("wait=1, wait=9"), 1000); }

TEST(PreferWait, ToleratesWhitespaceAndIgnoresParameters) {
  EXPECT_EQ(wait_ms("  wait = 3  "), 3000);
  EXPECT_EQ(wait_ms("\twait=3\t"), 3000);
  EXPECT_EQ(wait_ms("wait=3; foo=bar"), 3000);
}

TEST(PreferWait, IgnoresNegativeOrSignedValues) {
  EXPECT_FALSE(wait_ms("wait=-1"));
  EXPECT_FALSE(wait_ms("wait=-0.5"));
  EXPECT_FALSE(wait_ms("wait=+1"));
}

TEST(PreferWait, IgnoresMalformedValues) {
  for (const char* bad : {"wait=", "wait=abc", "wait=5s", "wait=5 6", "wait=\"\"", "wait=\"5",
                          "wait=inf", "wait=nan", "wait=0x10", "wait==5"}) {
    EXPECT_FALSE(wait_ms(bad)) << '"' << bad << '"';
  }
}

TEST(PreferWait, AbsentWhenNoWaitPreference) {
  for (const char* none :
       {"", "respond-async", "return=minimal", "wait", "waiting=5", "nowait=5", "w=5", ",,,"}) {
    EXPECT_FALSE(wait_ms(none)) << '"' << none << '"';
  }
}

TEST(PreferWait, HugeValuesAreClampedInsteadOfOverflowing) {
  const auto ms = wait_ms("wait=1e300");
  ASSERT_TRUE(ms.has_value());
  EXPECT_GT(*ms, 0);
  EXPECT_EQ(wait_ms("wait=99999999999999999999"), ms);
}

}  // namespace
}  // namespace errand
