#include "core/memory_guard.hpp"

#include <gtest/gtest.h>

namespace errand {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

TEST(MemoryGuard, RefusesAboveTheLimit) {
  EXPECT_FALSE(memory_pressure(false, 100 * kMiB, 100 * kMiB));
  EXPECT_TRUE(memory_pressure(false, 100 * kMiB + 1, 100 * kMiB));
}

TEST(MemoryGuard, KeepsRefusingUntilBelowNinetyPercent) {
  EXPECT_TRUE(memory_pressure(true, 95 * kMiB, 100 * kMiB));
  EXPECT_TRUE(memory_pressure(true, 90 * kMiB, 100 * kMiB));
  EXPECT_FALSE(memory_pressure(true, 89 * kMiB, 100 * kMiB));
  // Not refusing yet: the band below the limit does not start it.
  EXPECT_FALSE(memory_pressure(false, 95 * kMiB, 100 * kMiB));
}

TEST(MemoryGuard, ZeroLimitMeansNoGuard) {
  EXPECT_FALSE(memory_pressure(true, 1'000'000 * kMiB, 0));
}

TEST(MemoryGuard, DefaultIsEightyPercentOfTheSmallerBound) {
  EXPECT_EQ(default_memory_limit(std::nullopt, 1000 * kMiB), 800 * kMiB);
  EXPECT_EQ(default_memory_limit(500 * kMiB, 1000 * kMiB), 400 * kMiB);
  // A cgroup limit above the machine's memory (or "max" read as huge) changes nothing.
  EXPECT_EQ(default_memory_limit(4000 * kMiB, 1000 * kMiB), 800 * kMiB);
}

}  // namespace
}  // namespace errand
