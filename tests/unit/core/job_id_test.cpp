#include "core/job_id.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>

namespace errand {
namespace {

constexpr Millis kSomeMs = 1'795'778'599'123;  // 2026-11-27T11:23:19.123Z

Millis timestamp_of(const JobId& id) {
  std::uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = (ms << 8) | id.bytes[i];
  return static_cast<Millis>(ms);
}

int counter_of(const JobId& id) { return ((id.bytes[6] & 0x0f) << 8) | id.bytes[7]; }

TEST(UuidV7Generator, SetsVersionSevenAndRfc9562Variant) {
  UuidV7Generator gen(42);
  for (int i = 0; i < 100; ++i) {
    const JobId id = gen.next(kSomeMs + i);
    EXPECT_EQ(id.bytes[6] >> 4, 7) << id.to_string();
    EXPECT_EQ(id.bytes[8] & 0xc0, 0x80) << id.to_string();
    const std::string text = id.to_string();
    EXPECT_EQ(text[14], '7');
    EXPECT_NE(std::string("89ab").find(text[19]), std::string::npos) << text;
  }
}

TEST(UuidV7Generator, EncodesTheMillisecondsBigEndianInTheFirstSixBytes) {
  UuidV7Generator gen(1);
  const JobId id = gen.next(kSomeMs);
  EXPECT_EQ(timestamp_of(id), kSomeMs);
  EXPECT_EQ(id.to_string().substr(0, 13), "01a21cbe-d8d3");  // 0x01a21cbed8d3 == kSomeMs
}

TEST(UuidV7Generator, IdsAreStrictlyIncreasingWithinOneMillisecond) {
  UuidV7Generator gen(7);
  JobId previous = gen.next(kSomeMs);
  for (int i = 0; i < 1000; ++i) {
    const JobId id = gen.next(kSomeMs);
    ASSERT_LT(previous, id) << "at " << i;
    ASSERT_LT(previous.to_string(), id.to_string()) << "string order must match byte order";
    previous = id;
  }
}

TEST(UuidV7Generator, CounterOverflowBorrowsTheNextMillisecondAndStaysIncreasing) {
  UuidV7Generator gen(9);
  JobId previous = gen.next(kSomeMs);
  bool borrowed = false;
  // The 12-bit counter starts at most at 0x1ff, so 5000 ids in one
  // millisecond must run it out at least once.
  for (int i = 0; i < 5000; ++i) {
    const JobId id = gen.next(kSomeMs);
    ASSERT_LT(previous, id) << "at " << i;
    if (timestamp_of(id) > kSomeMs) {
      borrowed = true;
      EXPECT_LE(timestamp_of(id), kSomeMs + 2);
    }
    previous = id;
  }
  EXPECT_TRUE(borrowed);
  // When the clock catches up with the borrowed millisecond, ids keep rising.
  for (Millis t = kSomeMs + 1; t <= kSomeMs + 3; ++t) {
    const JobId id = gen.next(t);
    ASSERT_LT(previous, id);
    previous = id;
  }
}

TEST(UuidV7Generator, IdsKeepIncreasingWhenTheClockGoesBack) {
  UuidV7Generator gen(3);
  const JobId first = gen.next(kSomeMs);
  const JobId second = gen.next(kSomeMs - 1000);
  EXPECT_LT(first, second);
  EXPECT_EQ(timestamp_of(second), kSomeMs);
}

TEST(UuidV7Generator, ANewMillisecondRestartsTheCounterLow) {
  UuidV7Generator gen(5);
  for (int i = 0; i < 100; ++i) {
    const JobId id = gen.next(kSomeMs + i * 10);
    EXPECT_LE(counter_of(id), 0x1ff) << "leaves room to count up within the millisecond";
  }
}

TEST(UuidV7Generator, RandomBitsDifferBetweenGeneratorsWithDifferentSeeds) {
  UuidV7Generator a(1), b(2);
  EXPECT_NE(a.next(kSomeMs), b.next(kSomeMs));
}

TEST(JobId, ToStringIsCanonicalLowerCaseWithDashes) {
  UuidV7Generator gen(11);
  const std::string text = gen.next(kSomeMs).to_string();
  ASSERT_EQ(text.size(), 36u);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      EXPECT_EQ(text[i], '-') << i;
    } else {
      EXPECT_TRUE((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')) << i;
    }
  }
}

TEST(JobId, ParseAndToStringRoundTrip) {
  UuidV7Generator gen(13);
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const JobId id = gen.next(kSomeMs + i / 10);
    const std::string text = id.to_string();
    const auto parsed = JobId::parse(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    EXPECT_EQ(*parsed, id);
    EXPECT_EQ(parsed->to_string(), text);
    EXPECT_TRUE(seen.insert(text).second) << "duplicate " << text;
  }
}

TEST(JobId, ParseAcceptsUpperCase) {
  const auto lower = JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e");
  const auto upper = JobId::parse("0192F5C4-6E1A-7B3C-9D2E-4F5A6B7C8D9E");
  ASSERT_TRUE(lower && upper);
  EXPECT_EQ(*lower, *upper);
  EXPECT_EQ(upper->to_string(), "0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e");
}

TEST(JobId, ParseRejectsMalformedText) {
  for (const char* bad : {
           "",
           "0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9",         // 35 characters
           "0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e0",       // 37 characters
           "0192f5c46e1a7b3c9d2e4f5a6b7c8d9e",            // no dashes
           "0192f5c4-6e1a-7b3c-9d2e_4f5a6b7c8d9e",        // wrong separator
           "0192f5c46-e1a-7b3c-9d2e-4f5a6b7c8d9e",        // dash in the wrong place
           "0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9-",        // dash in place of a digit
           "0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9g",        // not hex
           " 192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e",        // space
           "{0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9}",       // braces
           "0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d\xc3\xa9",  // UTF-8
       }) {
    EXPECT_FALSE(JobId::parse(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(JobId, RawAndFromRawRoundTrip) {
  UuidV7Generator gen(17);
  const JobId id = gen.next(kSomeMs);
  EXPECT_EQ(id.raw().size(), 16u);
  EXPECT_EQ(JobId::from_raw(id.raw()), id);
}

TEST(JobId, OrderFollowsCreationTimeAcrossMilliseconds) {
  UuidV7Generator gen(19);
  const JobId earlier = gen.next(kSomeMs);
  const JobId later = gen.next(kSomeMs + 1);
  EXPECT_LT(earlier, later);
  EXPECT_LT(earlier.raw(), later.raw()) << "the store sorts raw keys bytewise";
}

TEST(JobIdHash, EqualIdsHashEqual) {
  UuidV7Generator gen(23);
  const JobId id = gen.next(kSomeMs);
  EXPECT_EQ(JobIdHash{}(id), JobIdHash{}(*JobId::parse(id.to_string())));
}

}  // namespace
}  // namespace errand
