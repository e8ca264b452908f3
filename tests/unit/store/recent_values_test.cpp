// RecentValues: a bounded map of the latest writes, read instead of the store.
#include "store/embedded/recent_values.hpp"

#include <gtest/gtest.h>

#include <string>

namespace errand::embedded {
namespace {

TEST(RecentValues, ReturnsTheLatestValueOfAKeyPerFamily) {
  RecentValues recent(1 << 20);
  EXPECT_FALSE(recent.get(0, "k"));
  recent.put(0, "k", "one");
  recent.put(1, "k", "other family");
  recent.put(0, "k", "two");
  EXPECT_EQ(recent.get(0, "k"), "two");
  EXPECT_EQ(recent.get(1, "k"), "other family");
  recent.erase(0, "k");
  EXPECT_FALSE(recent.get(0, "k"));
  EXPECT_EQ(recent.get(1, "k"), "other family");
}

TEST(RecentValues, ForgetsTheOldestWritesToStayWithinItsBound) {
  RecentValues recent(2000);
  const std::string value(100, 'x');
  for (int i = 0; i < 100; ++i) recent.put(0, "key" + std::to_string(i), value);
  EXPECT_LE(recent.bytes(), 2000u);
  EXPECT_FALSE(recent.get(0, "key0"));
  EXPECT_EQ(recent.get(0, "key99"), value);
  // Rewriting a key makes it the newest.
  recent.put(0, "key95", "again");
  for (int i = 100; i < 106; ++i) recent.put(0, "key" + std::to_string(i), value);
  EXPECT_FALSE(recent.get(0, "key96"));
  EXPECT_EQ(recent.get(0, "key95"), "again");
}

TEST(RecentValues, AValueLargerThanTheBoundIsNotKeptAndDropsItsOlderValue) {
  RecentValues recent(1000);
  recent.put(0, "k", "small");
  recent.put(0, "k", std::string(2000, 'x'));
  EXPECT_FALSE(recent.get(0, "k"));
  EXPECT_EQ(recent.bytes(), 0u);
}

TEST(RecentValues, ClearForgetsEverything) {
  RecentValues recent(1 << 20);
  recent.put(0, "a", "1");
  recent.put(2, "b", "2");
  recent.clear();
  EXPECT_FALSE(recent.get(0, "a"));
  EXPECT_FALSE(recent.get(2, "b"));
  EXPECT_EQ(recent.bytes(), 0u);
}

}  // namespace
}  // namespace errand::embedded
