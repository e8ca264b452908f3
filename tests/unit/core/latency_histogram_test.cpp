#include "core/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace errand {
namespace {

// The exact percentile of sorted values, by the same rank rule.
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, double p) {
  const auto rank = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::ceil(p / 100 * static_cast<double>(sorted.size()) - 1e-9)));
  return sorted[rank - 1];
}

TEST(LatencyHistogram, EmptyReportsZeros) {
  const LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.percentile(100), 0u);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
  EXPECT_EQ(h.percentile(0), 1u);
  EXPECT_EQ(h.percentile(7), 7u);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(90), 90u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(99.9), 100u);
  EXPECT_EQ(h.percentile(100), 100u);
}

TEST(LatencyHistogram, PercentilesAreWithinOnePercentOverAWideRange) {
  std::mt19937_64 rng(42);
  // Log-uniform from 1 µs to 100 s in nanoseconds: every bucket size is hit.
  std::uniform_real_distribution<double> exponent(3, 11);
  LatencyHistogram h;
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 100'000; ++i) {
    const auto v = static_cast<std::uint64_t>(std::pow(10.0, exponent(rng)));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (const double p : {0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99}) {
    const double exact = static_cast<double>(exact_percentile(values, p));
    const double reported = static_cast<double>(h.percentile(p));
    EXPECT_LE(std::abs(reported - exact) / exact, 0.01) << "p" << p;
    // Reported as the top of its bucket: never below the true value.
    EXPECT_GE(reported, exact) << "p" << p;
  }
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.percentile(100), values.back());
}

TEST(LatencyHistogram, PercentilesNeverDecreaseAndNeverPassMax) {
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> latency(1.0 / 2e6);
  LatencyHistogram h;
  for (int i = 0; i < 10'000; ++i) h.record(static_cast<std::uint64_t>(latency(rng)));
  std::uint64_t previous = 0;
  for (double p = 0; p <= 100; p += 0.5) {
    const std::uint64_t v = h.percentile(p);
    EXPECT_GE(v, previous) << "p" << p;
    EXPECT_LE(v, h.max()) << "p" << p;
    previous = v;
  }
}

TEST(LatencyHistogram, OneValueIsEveryPercentile) {
  LatencyHistogram h;
  h.record(123'456'789);
  EXPECT_EQ(h.percentile(0), 123'456'789u);
  EXPECT_EQ(h.percentile(50), 123'456'789u);
  EXPECT_EQ(h.percentile(100), 123'456'789u);
}

TEST(LatencyHistogram, TakesTheExtremesOfTheRange) {
  LatencyHistogram h;
  h.record(0);
  h.record(std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.percentile(100), std::numeric_limits<std::uint64_t>::max());
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<std::uint64_t> value(1, 50'000'000);
  LatencyHistogram a;
  LatencyHistogram b;
  LatencyHistogram all;
  for (int i = 0; i < 5000; ++i) {
    const auto v = value(rng);
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
  }
  LatencyHistogram merged;
  merged.merge(a);
  merged.merge(b);
  merged.merge(LatencyHistogram{});  // an empty one changes nothing
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (const double p : {1.0, 50.0, 90.0, 99.0, 99.9}) {
    EXPECT_EQ(merged.percentile(p), all.percentile(p)) << "p" << p;
  }
}

TEST(LatencyHistogram, MergeIntoEmptyTakesTheOthersMin) {
  LatencyHistogram a;
  a.record(500);
  LatencyHistogram empty;
  empty.merge(a);
  EXPECT_EQ(empty.min(), 500u);
  EXPECT_EQ(empty.max(), 500u);
}

TEST(LatencyHistogram, ClearForgetsEverything) {
  LatencyHistogram h;
  h.record(10);
  h.record(1'000'000);
  h.clear();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.max(), 0u);
  h.record(20);
  EXPECT_EQ(h.min(), 20u);
  EXPECT_EQ(h.percentile(100), 20u);
}

TEST(LatencyHistogram, CountsAtOrBelowAValue) {
  LatencyHistogram h;
  for (std::uint64_t v : {1u, 2u, 3u, 100u, 1000u, 1'000'000u}) h.record(v);
  EXPECT_EQ(h.count_at_or_below(0), 0u);
  EXPECT_EQ(h.count_at_or_below(3), 3u);
  EXPECT_EQ(h.count_at_or_below(999), 4u);
  EXPECT_EQ(h.count_at_or_below(1000), 5u);
  EXPECT_EQ(h.count_at_or_below(std::numeric_limits<std::uint64_t>::max()), 6u);
}

}  // namespace
}  // namespace errand
