#include "bench/report.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace errand::bench {
namespace {

namespace json = boost::json;

constexpr std::uint64_t kMs = 1'000'000;  // nanoseconds

BenchResult round_trips() {
  BenchResult result(Workload::kRoundTrip, "round trips", "round trip");
  result.queue = "bench-w3-1";
  Run run;
  run.label = "C=4";
  run.concurrency = 4;
  run.count = 4;
  run.total = 6;
  run.seconds = 2;
  for (const std::uint64_t ms : {1, 2, 3, 40}) run.latency.record(ms * kMs);
  result.runs.push_back(std::move(run));
  result.queue_counts = {{"queued", 0}, {"succeeded", 6}};
  return result;
}

BenchArgs w3_args() {
  BenchArgs args;
  args.workload = "w3";
  args.duration_seconds = 2;
  args.warmup_seconds = 0.5;
  return args;
}

TEST(LatencyHistogramText, CountsEachValueOnceOnThe125Series) {
  LatencyHistogram h;
  for (const std::uint64_t ms : {1, 2, 3, 40}) h.record(ms * kMs);
  EXPECT_EQ(latency_histogram_text(h),
            "  <=      1.000 ms          1  25.00%  ########################################\n"
            "  <=      2.000 ms          1  25.00%  ########################################\n"
            "  <=      5.000 ms          1  25.00%  ########################################\n"
            "  <=     10.000 ms          0   0.00%\n"
            "  <=     20.000 ms          0   0.00%\n"
            "  <=     50.000 ms          1  25.00%  ########################################\n");
}

TEST(LatencyHistogramText, IsEmptyWithoutValues) {
  EXPECT_EQ(latency_histogram_text(LatencyHistogram{}), "");
}

TEST(ReportJson, HoldsTheRunsSettingsAndCounts) {
  const json::value doc = json::parse(report_json(w3_args(), round_trips()));
  EXPECT_EQ(doc.at("workload"), "w3");
  EXPECT_EQ(doc.at("queue"), "bench-w3-1");
  EXPECT_EQ(doc.at("settings").at("duration_s").as_double(), 2.0);
  const json::value& run = doc.at("runs").at(0);
  EXPECT_EQ(run.at("label"), "C=4");
  EXPECT_EQ(run.at("concurrency"), 4);
  EXPECT_EQ(run.at("count"), 4u);
  EXPECT_EQ(run.at("total"), 6u);
  EXPECT_EQ(run.at("per_second").as_double(), 2.0);
  // min and max are exact; percentiles within 1% (the top of their bucket).
  const json::value& latency = run.at("latency_ms");
  EXPECT_EQ(latency.at("count"), 4u);
  EXPECT_EQ(latency.at("min").as_double(), 1.0);
  EXPECT_NEAR(latency.at("p50").as_double(), 2.0, 0.02);
  EXPECT_NEAR(latency.at("p90").as_double(), 40.0, 0.4);
  EXPECT_EQ(latency.at("max").as_double(), 40.0);
  EXPECT_EQ(doc.at("queue_counts").at("succeeded"), 6);
  EXPECT_EQ(doc.as_object().if_contains("memory"), nullptr);
}

TEST(ReportJson, SaysWhenTheMemoryIsUnknown) {
  BenchResult result = round_trips();
  result.workload = Workload::kWaiters;
  result.waits = 10;
  result.memory = MemoryUse{};
  const json::value memory = json::parse(report_json(w3_args(), result)).at("memory");
  EXPECT_EQ(memory.at("waits"), 10);
  EXPECT_TRUE(memory.at("source").is_null());
  EXPECT_TRUE(memory.at("bytes_per_wait").is_null());

  result.memory = MemoryUse{"/proc/1/status", 1000, 3000};
  const json::value known = json::parse(report_json(w3_args(), result)).at("memory");
  EXPECT_EQ(known.at("extra_bytes"), 2000);
  EXPECT_EQ(known.at("bytes_per_wait"), 200);
}

TEST(ReportText, ShowsATableTheCountsAndAHistogramPerRun) {
  const std::string text = report_text(w3_args(), round_trips());
  EXPECT_EQ(text.substr(0, text.find("\nC=4")),
            "errand bench w3 against http://127.0.0.1:7400: round trips, 2.0 s measured after "
            "0.5 s of warm-up\n"
            "RUN  COUNT  SECONDS  PER SECOND  P50 MS  P90 MS  P99 MS  P99.9 MS  MAX MS");
  EXPECT_NE(text.find("\nC=4      4     2.00           2   2.0"), std::string::npos) << text;
  EXPECT_NE(text.find(" 40.000\nqueue bench-w3-1 after the run: succeeded 6\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("\nlatency of each round trip, C=4:\n  <=      1.000 ms"), std::string::npos);
}

}  // namespace
}  // namespace errand::bench
