#include "core/retry_policy.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace errand {
namespace {

constexpr double kNoJitter = 0.5;              // unit_random 0.5 picks the middle
constexpr double kAlmostOne = 0.999999999999;  // the top of [0, 1)

Backoff no_jitter(std::int64_t initial_ms, double multiplier, std::int64_t max_ms) {
  Backoff b;
  b.initial_ms = initial_ms;
  b.multiplier = multiplier;
  b.max_ms = max_ms;
  b.jitter = 0.0;
  return b;
}

TEST(RetryPolicy, DefaultsAreTheSpecDefaults) {
  const Backoff b;
  EXPECT_EQ(b.initial_ms, 1000);
  EXPECT_EQ(b.multiplier, 2.0);
  EXPECT_EQ(b.max_ms, 3'600'000);
  EXPECT_EQ(b.jitter, 0.2);
  EXPECT_TRUE(b.validate().is_ok());
}

TEST(RetryPolicy, FirstAttemptWaitsTheInitialDelay) {
  EXPECT_EQ(retry_delay_ms(Backoff{}, 1, kNoJitter), 1000);
  EXPECT_EQ(retry_delay_ms(no_jitter(250, 3.0, 10'000), 1, 0.0), 250);
}

TEST(RetryPolicy, DelayGrowsByTheMultiplierPerAttempt) {
  const Backoff b = no_jitter(100, 3.0, 1'000'000);
  EXPECT_EQ(retry_delay_ms(b, 1, 0.0), 100);
  EXPECT_EQ(retry_delay_ms(b, 2, 0.0), 300);
  EXPECT_EQ(retry_delay_ms(b, 3, 0.0), 900);
  EXPECT_EQ(retry_delay_ms(b, 4, 0.0), 2700);
  EXPECT_EQ(retry_delay_ms(Backoff{}, 5, kNoJitter), 16'000);
}

TEST(RetryPolicy, BackoffIsCappedAtMax) {
  const Backoff b = no_jitter(1000, 2.0, 5000);
  EXPECT_EQ(retry_delay_ms(b, 3, 0.0), 4000);
  EXPECT_EQ(retry_delay_ms(b, 4, 0.0), 5000);
  EXPECT_EQ(retry_delay_ms(b, 50, 0.0), 5000);
  EXPECT_EQ(retry_delay_ms(Backoff{}, 40, kNoJitter), 3'600'000);
}

TEST(RetryPolicy, HugeAttemptNumbersDoNotOverflow) {
  EXPECT_EQ(retry_delay_ms(Backoff{}, std::numeric_limits<int>::max(), kNoJitter), 3'600'000);
  const Backoff b = no_jitter(std::numeric_limits<std::int64_t>::max() / 2, 1000.0, 3'600'000);
  EXPECT_EQ(retry_delay_ms(b, 100, 0.0), 3'600'000);
}

TEST(RetryPolicy, AttemptBelowOneIsTreatedAsTheFirst) {
  EXPECT_EQ(retry_delay_ms(Backoff{}, 0, kNoJitter), 1000);
  EXPECT_EQ(retry_delay_ms(Backoff{}, -3, kNoJitter), 1000);
}

TEST(RetryPolicy, JitterOfZeroRandomIsTheLowerBound) {
  EXPECT_EQ(retry_delay_ms(Backoff{}, 1, 0.0), 800);   // 1000 * (1 - 0.2)
  EXPECT_EQ(retry_delay_ms(Backoff{}, 2, 0.0), 1600);  // 2000 * (1 - 0.2)
}

TEST(RetryPolicy, JitterOfAlmostOneRandomApproachesTheUpperBound) {
  EXPECT_EQ(retry_delay_ms(Backoff{}, 1, kAlmostOne), 1200);  // 1000 * (1 + 0.2)
  EXPECT_EQ(retry_delay_ms(Backoff{}, 2, kAlmostOne), 2400);
}

TEST(RetryPolicy, JitterStaysWithinItsBoundsForEveryRandom) {
  const Backoff b;  // jitter 0.2
  for (int attempt = 1; attempt <= 30; ++attempt) {
    const double base = std::min(1000.0 * std::pow(2.0, attempt - 1), 3'600'000.0);
    for (double u = 0.0; u < 1.0; u += 0.0625) {
      const auto d = retry_delay_ms(b, attempt, u);
      EXPECT_GE(d, std::llround(base * 0.8)) << "attempt " << attempt << " u " << u;
      EXPECT_LE(d, std::llround(base * 1.2)) << "attempt " << attempt << " u " << u;
    }
  }
}

TEST(RetryPolicy, JitterAppliesAroundTheCappedDelay) {
  // SPEC: min(max_ms, ...) with ±jitter: the cap is applied before the jitter.
  Backoff b;
  b.max_ms = 10'000;
  EXPECT_EQ(retry_delay_ms(b, 30, 0.0), 8000);
  EXPECT_EQ(retry_delay_ms(b, 30, kAlmostOne), 12'000);
}

TEST(RetryPolicy, FullJitterCanReachZeroButNeverBelow) {
  Backoff b;
  b.jitter = 1.0;
  EXPECT_EQ(retry_delay_ms(b, 1, 0.0), 0);
  EXPECT_EQ(retry_delay_ms(b, 1, kAlmostOne), 2000);
}

TEST(RetryPolicy, ZeroInitialDelayRetriesAtOnce) {
  EXPECT_EQ(retry_delay_ms(no_jitter(0, 2.0, 1000), 5, 0.3), 0);
}

TEST(RetryPolicy, ValidateAcceptsTheBoundaries) {
  EXPECT_TRUE(no_jitter(0, 1.0, 0).validate().is_ok());
  Backoff b = no_jitter(0, 1000.0, 0);
  b.jitter = 1.0;
  EXPECT_TRUE(b.validate().is_ok());
}

TEST(RetryPolicy, ValidateRejectsOutOfRangeValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  auto with = [](auto change) {
    Backoff b;
    change(b);
    return b.validate();
  };
  const Status bad[] = {
      with([](Backoff& b) { b.initial_ms = -1; }),
      with([](Backoff& b) { b.multiplier = 0.99; }),
      with([](Backoff& b) { b.multiplier = 0.0; }),
      with([](Backoff& b) { b.multiplier = -2.0; }),
      with([](Backoff& b) { b.multiplier = 1000.5; }),
      with([&](Backoff& b) { b.multiplier = nan; }),
      with([&](Backoff& b) { b.multiplier = inf; }),
      with([](Backoff& b) { b.max_ms = -1; }),
      with([](Backoff& b) { b.jitter = -0.01; }),
      with([](Backoff& b) { b.jitter = 1.01; }),
      with([&](Backoff& b) { b.jitter = nan; }),
  };
  for (std::size_t i = 0; i < std::size(bad); ++i) {
    EXPECT_EQ(bad[i].code(), Code::kInvalidArgument) << "case " << i;
    EXPECT_FALSE(bad[i].message().empty()) << "case " << i;
  }
}

TEST(RetryPolicy, ValidateNamesTheOffendingField) {
  Backoff b;
  b.jitter = 2.0;
  EXPECT_NE(b.validate().message().find("jitter"), std::string::npos);
  b = Backoff{};
  b.initial_ms = -5;
  EXPECT_NE(b.validate().message().find("initial_ms"), std::string::npos);
}

}  // namespace
}  // namespace errand
