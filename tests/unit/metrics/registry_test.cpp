// The metrics registry and its text exposition (format 0.0.4).
#include "metrics/registry.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace errand::metrics {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The metric name of a sample line: up to '{' or ' '.
std::string sample_name(const std::string& line) {
  return line.substr(0, line.find_first_of("{ "));
}

TEST(Registry, CounterRendersHelpTypeAndOneLinePerLabelSet) {
  Registry r;
  auto& f = r.counter("errand_things_total", "Things done.", {"queue"});
  f.with({"b"}).inc(2);
  f.with({"a"}).inc();
  EXPECT_EQ(r.render(),
            "# HELP errand_things_total Things done.\n"
            "# TYPE errand_things_total counter\n"
            "errand_things_total{queue=\"a\"} 1\n"
            "errand_things_total{queue=\"b\"} 2\n");
}

TEST(Registry, WithReturnsTheSameSeriesForTheSameLabels) {
  Registry r;
  auto& f = r.counter("c_total", "c", {"queue"});
  EXPECT_EQ(&f.with({"q"}), &f.with({"q"}));
  EXPECT_NE(&f.with({"q"}), &f.with({"r"}));
}

TEST(Registry, UnlabelledGaugeHasNoBraces) {
  Registry r;
  r.gauge("errand_open", "Open.").with({}).set(3.5);
  EXPECT_NE(r.render().find("\nerrand_open 3.5\n"), std::string::npos) << r.render();
}

TEST(Registry, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.counter("c_total", "a \\ b\nc", {"l"}).with({"x\"y\\z\nw"}).inc();
  const std::string out = r.render();
  EXPECT_NE(out.find("# HELP c_total a \\\\ b\\nc\n"), std::string::npos) << out;
  EXPECT_NE(out.find("c_total{l=\"x\\\"y\\\\z\\nw\"} 1\n"), std::string::npos) << out;
}

TEST(Registry, HistogramBucketsAreCumulativeAndEndWithInf) {
  Registry r;
  auto& h = r.histogram("lat_seconds", "Latency.", {0.1, 1, 10}, {"queue"}).with({"q"});
  for (double v : {0.05, 0.1, 0.5, 5.0, 50.0}) h.observe(v);
  EXPECT_EQ(r.render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{queue=\"q\",le=\"0.1\"} 2\n"
            "lat_seconds_bucket{queue=\"q\",le=\"1\"} 3\n"
            "lat_seconds_bucket{queue=\"q\",le=\"10\"} 4\n"
            "lat_seconds_bucket{queue=\"q\",le=\"+Inf\"} 5\n"
            "lat_seconds_sum{queue=\"q\"} 55.65\n"
            "lat_seconds_count{queue=\"q\"} 5\n");
}

TEST(Registry, UnlabelledHistogramHasOnlyTheLeLabel) {
  Registry r;
  r.histogram("size", "Size.", {1, 2}).with({}).observe(2);
  const std::string out = r.render();
  EXPECT_NE(out.find("size_bucket{le=\"1\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("size_bucket{le=\"2\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("size_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("size_sum 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("size_count 1\n"), std::string::npos) << out;
}

TEST(Registry, SeriesPastTheCapShareTheOtherSeries) {
  Registry r;
  auto& f = r.counter("c_total", "c", {"queue", "outcome"}, 2);
  f.with({"a", "x"}).inc();
  f.with({"b", "x"}).inc();
  f.with({"c", "x"}).inc();
  f.with({"d", "y"}).inc(2);
  f.with({"a", "x"}).inc();  // an existing series keeps its own labels
  EXPECT_EQ(r.render(),
            "# HELP c_total c\n"
            "# TYPE c_total counter\n"
            "c_total{queue=\"_other\",outcome=\"_other\"} 3\n"
            "c_total{queue=\"a\",outcome=\"x\"} 2\n"
            "c_total{queue=\"b\",outcome=\"x\"} 1\n");
}

TEST(Registry, FamiliesRenderInTheOrderTheyWereAddedEvenWithoutSeries) {
  Registry r;
  r.gauge("z_gauge", "z");
  r.counter("a_total", "a");
  const auto lines = lines_of(r.render());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], "# TYPE z_gauge gauge");
  EXPECT_EQ(lines[3], "# TYPE a_total counter");
}

TEST(Registry, EverySampleFollowsTheTypeLineOfItsFamily) {
  Registry r;
  r.counter("a_total", "a", {"q"}).with({"x"}).inc();
  r.gauge("b", "b", {"q", "state"}).with({"x", "queued"}).set(1);
  r.histogram("c_seconds", "c", {0.5}, {"q"}).with({"x"}).observe(1);
  std::map<std::string, std::string> types;  // family -> type
  for (const auto& line : lines_of(r.render())) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream in(line.substr(7));
      std::string name, type;
      in >> name >> type;
      types[name] = type;
      continue;
    }
    if (line.rfind("#", 0) == 0) continue;
    std::string name = sample_name(line);
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (!types.contains(name) && name.size() > s.size() &&
          name.compare(name.size() - s.size(), s.size(), s) == 0) {
        name.resize(name.size() - s.size());
      }
    }
    EXPECT_TRUE(types.contains(name)) << "no TYPE before: " << line;
  }
  EXPECT_EQ(types["c_seconds"], "histogram");
}

TEST(Registry, ConcurrentObservationsAreAllCounted) {
  Registry r;
  auto& c = r.counter("c_total", "c").with({});
  auto& h = r.histogram("h", "h", {1}).with({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        c.inc();
        h.observe(i % 2 ? 0.5 : 2);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40'000u);
  const auto s = h.snapshot();
  EXPECT_EQ(s.count, 40'000u);
  EXPECT_EQ(s.cumulative[0], 20'000u);
  EXPECT_DOUBLE_EQ(s.sum, 20'000 * 0.5 + 20'000 * 2.0);
}

TEST(Registry, GaugeScopeCountsWhatIsOpen) {
  Gauge g;
  {
    GaugeScope a(g);
    GaugeScope b(g);
    EXPECT_EQ(g.value(), 2);
  }
  EXPECT_EQ(g.value(), 0);
}

TEST(FormatValue, UsesTheFormsPrometheusReads) {
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(3600), "3600");
  EXPECT_EQ(format_value(0.0001), "0.0001");
  EXPECT_EQ(format_value(0.00001), "1e-05");
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(-2.5), "-2.5");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
}

}  // namespace
}  // namespace errand::metrics
