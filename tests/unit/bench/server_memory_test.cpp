#include "bench/server_memory.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

namespace errand::bench {
namespace {

TEST(ParseVmRss, ReadsKibibytesAsBytes) {
  EXPECT_EQ(parse_vm_rss("Name:\terrand\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nThreads:\t5\n"),
            12345u * 1024);
}

TEST(ParseVmRss, IsNulloptWithoutTheField) {
  EXPECT_EQ(parse_vm_rss("Name:\terrand\nThreads:\t5\n"), std::nullopt);
  EXPECT_EQ(parse_vm_rss("VmRSS:\tlots\n"), std::nullopt);
  EXPECT_EQ(parse_vm_rss(""), std::nullopt);
}

TEST(ReadProcessRss, ReadsThisProcess) {
  const auto rss = read_process_rss(static_cast<int>(::getpid()));
  ASSERT_TRUE(rss.has_value());
  EXPECT_GT(*rss, 0u);
}

TEST(MetricValue, ReadsAMetricWithoutLabels) {
  const char* text =
      "# HELP errand_open_waits requests waiting now\n"
      "# TYPE errand_open_waits gauge\n"
      "errand_open_waits 10004\n"
      "errand_open_waits_other 7\n";
  EXPECT_EQ(metric_value(text, "errand_open_waits"), 10004.0);
}

TEST(MetricValue, SumsTheSamplesOfEveryLabelSet) {
  const char* text =
      "errand_jobs{queue=\"a\",state=\"queued\"} 3\n"
      "errand_jobs{queue=\"b\",state=\"queued\"} 4.5\n"
      "errand_jobs_total 100\n";
  EXPECT_EQ(metric_value(text, "errand_jobs"), 7.5);
}

TEST(MetricValue, IsNulloptForAMetricNotThere) {
  EXPECT_EQ(metric_value("errand_open_waits 1\n", "process_resident_memory_bytes"), std::nullopt);
  EXPECT_EQ(metric_value("", "errand_open_waits"), std::nullopt);
  // A comment naming it is no sample.
  EXPECT_EQ(metric_value("# TYPE errand_open_waits gauge\n", "errand_open_waits"), std::nullopt);
}

}  // namespace
}  // namespace errand::bench
