#include "cli/progress_line.hpp"

#include <gtest/gtest.h>

namespace errand::cli {
namespace {

using std::chrono::milliseconds;

TEST(ProgressLine, ReadsPercentAndMessage) {
  auto p = parse_progress_line("errand:progress 40 resizing image 2 of 5");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->percent, 40);
  EXPECT_EQ(p->message, "resizing image 2 of 5");
}

TEST(ProgressLine, MessageIsOptionalAndTrimmed) {
  auto p = parse_progress_line("errand:progress\t7  \t");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->percent, 7);
  EXPECT_EQ(p->message, "");
  p = parse_progress_line("errand:progress   12   two  spaces kept inside  ");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "two  spaces kept inside");
}

TEST(ProgressLine, AcceptsFractionsAndPercentSign) {
  EXPECT_EQ(parse_progress_line("errand:progress 33.6 x")->percent, 34);
  EXPECT_EQ(parse_progress_line("errand:progress 50% half")->percent, 50);
}

TEST(ProgressLine, ClampsOutOfRangeValues) {
  EXPECT_EQ(parse_progress_line("errand:progress 150")->percent, 100);
  EXPECT_EQ(parse_progress_line("errand:progress -3")->percent, 0);
}

TEST(ProgressLine, IgnoresTrailingCarriageReturn) {
  auto p = parse_progress_line("errand:progress 10 msg\r");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "msg");
}

TEST(ProgressLine, OtherLinesAreOrdinary) {
  EXPECT_FALSE(parse_progress_line(""));
  EXPECT_FALSE(parse_progress_line("progress 10"));
  EXPECT_FALSE(parse_progress_line(" errand:progress 10"));
  EXPECT_FALSE(parse_progress_line("errand:progress"));
  EXPECT_FALSE(parse_progress_line("errand:progress10"));
  EXPECT_FALSE(parse_progress_line("errand:progressive 10"));
  EXPECT_FALSE(parse_progress_line("errand:progress ten percent"));
  EXPECT_FALSE(parse_progress_line("errand:progress 10x"));
  EXPECT_FALSE(parse_progress_line("errand:progress nan"));
  EXPECT_FALSE(parse_progress_line("errand:progress %"));
}

TEST(NoRetryLine, ReadsTheOptionalType) {
  EXPECT_EQ(parse_no_retry_line("errand:no-retry"), "");
  EXPECT_EQ(parse_no_retry_line("errand:no-retry declined"), "declined");
  EXPECT_EQ(parse_no_retry_line("errand:no-retry \tcard.declined_2-x  \r"), "card.declined_2-x");
  EXPECT_EQ(parse_no_retry_line("errand:no-retry " + std::string(kMaxErrorType, 't')),
            std::string(kMaxErrorType, 't'));
}

TEST(NoRetryLine, OtherLinesAreOrdinary) {
  EXPECT_FALSE(parse_no_retry_line(""));
  EXPECT_FALSE(parse_no_retry_line("no-retry"));
  EXPECT_FALSE(parse_no_retry_line(" errand:no-retry"));
  EXPECT_FALSE(parse_no_retry_line("errand:no-retrying"));
  EXPECT_FALSE(parse_no_retry_line("errand:no-retry two words"));
  EXPECT_FALSE(parse_no_retry_line("errand:no-retry déclin"));
  EXPECT_FALSE(parse_no_retry_line("errand:no-retry " + std::string(kMaxErrorType + 1, 't')));
  EXPECT_FALSE(parse_no_retry_line("errand:progress 10"));
  EXPECT_FALSE(parse_progress_line("errand:no-retry 10"));
}

TEST(ProgressThrottle, HandsOutTheFirstReportAtTheFirstTick) {
  ProgressThrottle t(milliseconds(200));
  const auto now = ProgressThrottle::Clock::now();
  EXPECT_FALSE(t.due(now));
  t.offer({10, "a"});
  auto sent = t.due(now);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->percent, 10);
  EXPECT_FALSE(t.due(now));
  EXPECT_FALSE(t.flush());
}

TEST(ProgressThrottle, HandsOutOnlyTheNewestOncePerInterval) {
  ProgressThrottle t(milliseconds(200));
  const auto t0 = ProgressThrottle::Clock::now();
  t.offer({10, "a"});
  ASSERT_TRUE(t.due(t0));
  t.offer({20, "b"});
  t.offer({30, "c"});
  EXPECT_FALSE(t.due(t0 + milliseconds(150)));
  auto held = t.due(t0 + milliseconds(200));
  ASSERT_TRUE(held);
  EXPECT_EQ(held->percent, 30);
  EXPECT_EQ(held->message, "c");
  EXPECT_FALSE(t.due(t0 + milliseconds(900)));
}

TEST(ProgressThrottle, FlushHandsOverWhatIsHeldWhateverTheTime) {
  ProgressThrottle t(milliseconds(200));
  const auto t0 = ProgressThrottle::Clock::now();
  t.offer({10, "a"});
  ASSERT_TRUE(t.due(t0));
  t.offer({100, "done"});
  auto last = t.flush();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->percent, 100);
  EXPECT_FALSE(t.flush());
  EXPECT_FALSE(t.due(t0 + milliseconds(900)));
}

}  // namespace
}  // namespace errand::cli
