#include "cli/tail_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace errand::cli {
namespace {

std::vector<std::string> split(LineSplitter& s, std::initializer_list<std::string_view> chunks,
                               bool finish = true) {
  std::vector<std::string> lines;
  const auto sink = [&](std::string_view line) { lines.emplace_back(line); };
  for (auto c : chunks) s.feed(c, sink);
  if (finish) s.finish(sink);
  return lines;
}

TEST(TailBuffer, KeepsEverythingWithinCapacity) {
  TailBuffer t(100);
  t.append("one\n");
  t.append("two\n");
  EXPECT_EQ(t.text(), "one\ntwo\n");
  EXPECT_FALSE(t.truncated());
}

TEST(TailBuffer, KeepsOnlyTheLastBytesAndStartsAtALine) {
  TailBuffer t(16);
  for (int i = 0; i < 100; ++i) t.append("line " + std::to_string(i) + "\n");
  const std::string text = t.text();
  EXPECT_LE(text.size(), 16u);
  EXPECT_EQ(text, "line 98\nline 99\n");
  EXPECT_TRUE(t.truncated());
}

TEST(TailBuffer, KeepsAPartialLineWhenItIsAllThereIs) {
  TailBuffer t(8);
  t.append(std::string(100, 'x'));
  EXPECT_EQ(t.text(), std::string(8, 'x'));
}

TEST(TailBuffer, DropsALeadingHalfLine) {
  TailBuffer t(10);
  t.append("a long first line\nshort\n");
  EXPECT_EQ(t.text(), "short\n");
}

TEST(TailBuffer, ACutNeverSplitsACharacter) {
  TailBuffer t(5);
  t.append("\xC3\xA9\xC3\xA9\xC3\xA9");  // three e-acute, 6 bytes: the cut splits the first
  EXPECT_EQ(t.text(), "\xC3\xA9\xC3\xA9");
}

TEST(TailBuffer, InvalidUtf8IsReplaced) {
  TailBuffer t(100);
  t.append("bad \xFF byte\n");
  EXPECT_EQ(t.text(), "bad \xEF\xBF\xBD byte\n");
}

TEST(LineSplitter, SplitsAcrossChunks) {
  LineSplitter s(100);
  EXPECT_EQ(split(s, {"a\nb", "c\n", "\nd"}), (std::vector<std::string>{"a", "bc", "", "d"}));
}

TEST(LineSplitter, HoldsAnUnterminatedLineUntilFinish) {
  LineSplitter s(100);
  EXPECT_EQ(split(s, {"abc"}, /*finish=*/false), std::vector<std::string>{});
  EXPECT_EQ(split(s, {"def"}), std::vector<std::string>{"abcdef"});
}

TEST(LineSplitter, CutsOverlongLinesIntoPieces) {
  LineSplitter s(4);
  EXPECT_EQ(split(s, {"abcdefghij\nxy\n"}), (std::vector<std::string>{"abcd", "efgh", "ij", "xy"}));
}

TEST(LineSplitter, ALineOfExactlyTheLimitIsOneLine) {
  LineSplitter s(4);
  EXPECT_EQ(split(s, {"abcd", "\nef\n"}), (std::vector<std::string>{"abcd", "ef"}));
}

}  // namespace
}  // namespace errand::cli
