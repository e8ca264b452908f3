#include "bench/report.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "cli/table.hpp"

namespace errand::bench {
namespace {

namespace json = boost::json;

constexpr double kNanosPerMs = 1e6;
constexpr int kBarWidth = 40;

struct Percentile {
  const char* json_name;
  const char* title;
  double at;
};
constexpr Percentile kPercentiles[] = {{"p50", "P50 MS", 50},
                                       {"p90", "P90 MS", 90},
                                       {"p99", "P99 MS", 99},
                                       {"p99_9", "P99.9 MS", 99.9}};

const char* workload_name(Workload w) {
  switch (w) {
    case Workload::kEnqueue:
      return "w1";
    case Workload::kDrain:
      return "w2";
    case Workload::kRoundTrip:
      return "w3";
    case Workload::kWaiters:
      return "w4";
  }
  return "?";
}

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string ms(std::uint64_t nanos) { return fixed(static_cast<double>(nanos) / kNanosPerMs, 3); }

std::string mib(std::uint64_t bytes) {
  return fixed(static_cast<double>(bytes) / (1024.0 * 1024.0), 1) + " MiB";
}

// The milliseconds of a latency, rounded to the microsecond.
double json_ms(std::uint64_t nanos) { return static_cast<double>(nanos / 1000) / 1000.0; }

json::object latency_json(const LatencyHistogram& h) {
  json::object o{{"count", h.count()},
                 {"min", json_ms(h.min())},
                 {"mean", json_ms(static_cast<std::uint64_t>(h.mean()))}};
  for (const Percentile& p : kPercentiles) o[p.json_name] = json_ms(h.percentile(p.at));
  o["max"] = json_ms(h.max());
  return o;
}

json::object settings_json(const BenchArgs& args, Workload workload) {
  json::object o;
  switch (workload) {
    case Workload::kEnqueue:
      o["jobs"] = args.jobs;
      o["window"] = args.window;
      o["batch"] = args.batch ? json::value(*args.batch) : json::value(nullptr);
      break;
    case Workload::kDrain:
      o["jobs"] = args.jobs;
      o["window"] = args.window;
      break;
    case Workload::kWaiters:
      o["waits"] = args.waits;
      o["sse"] = args.sse;
      [[fallthrough]];
    case Workload::kRoundTrip:
      o["duration_s"] = args.duration_seconds;
      o["warmup_s"] = args.warmup_seconds;
      if (args.rate) o["rate"] = *args.rate;
      break;
  }
  return o;
}

std::string what_was_measured(const BenchArgs& args, const BenchResult& result) {
  if (result.workload == Workload::kEnqueue || result.workload == Workload::kDrain) {
    return std::to_string(args.jobs) + " jobs";
  }
  return fixed(args.duration_seconds, 1) + " s measured after " + fixed(args.warmup_seconds, 1) +
         " s of warm-up";
}

std::string runs_table(const BenchResult& result) {
  std::vector<cli::Column> columns = {{"RUN", cli::Align::kLeft},
                                      {"COUNT", cli::Align::kRight},
                                      {"SECONDS", cli::Align::kRight},
                                      {"PER SECOND", cli::Align::kRight}};
  for (const Percentile& p : kPercentiles) columns.push_back({p.title, cli::Align::kRight});
  columns.push_back({"MAX MS", cli::Align::kRight});
  std::vector<std::vector<std::string>> rows;
  for (const Run& run : result.runs) {
    std::vector<std::string> row = {run.label, std::to_string(run.count), fixed(run.seconds, 2),
                                    fixed(run.per_second(), 0)};
    for (const Percentile& p : kPercentiles) row.push_back(ms(run.latency.percentile(p.at)));
    row.push_back(ms(run.latency.max()));
    rows.push_back(std::move(row));
  }
  return cli::format_table(columns, rows);
}

std::string memory_text(const BenchResult& result) {
  const MemoryUse& m = *result.memory;
  if (!m.before_bytes || !m.with_waits_bytes) {
    return "server memory: unknown (the server's /metrics has no process_resident_memory_bytes: "
           "pass --server-pid)\n";
  }
  const auto extra =
      static_cast<std::int64_t>(*m.with_waits_bytes) - static_cast<std::int64_t>(*m.before_bytes);
  return "server memory (" + m.source + "): " + mib(*m.before_bytes) + " before the waits, " +
         mib(*m.with_waits_bytes) + " with " + std::to_string(result.waits) +
         " waits: " + fixed(static_cast<double>(extra) / (1024.0 * 1024.0), 1) + " MiB more, " +
         std::to_string(extra / std::max<std::int64_t>(1, result.waits)) + " bytes a wait\n";
}

std::string counts_text(const BenchResult& result) {
  std::string text = "queue " + result.queue + " after the run:";
  for (const auto& [state, count] : result.queue_counts) {
    if (count != 0) text += " " + state + " " + std::to_string(count);
  }
  return text + "\n";
}

}  // namespace

std::string latency_histogram_text(const LatencyHistogram& latency) {
  if (latency.count() == 0) return {};
  // Bounds in nanoseconds on the 1-2-5 series from 1 µs, easy to read: the
  // first one at or above the smallest value opens the histogram, the first
  // one at or above the largest closes it.
  const auto next_bound = [](std::uint64_t b) {
    const bool two_then_five = std::to_string(b).front() == '2';
    return two_then_five ? b / 2 * 5 : b * 2;
  };
  std::uint64_t bound = 1000;
  while (bound < latency.min()) bound = next_bound(bound);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> rows;  // bound, count
  std::uint64_t below = 0;
  for (;;) {
    const std::uint64_t upto = latency.count_at_or_below(bound);
    rows.emplace_back(bound, upto - below);
    below = upto;
    if (bound >= latency.max() || bound > (std::uint64_t{1} << 60)) break;
    bound = next_bound(bound);
  }
  std::uint64_t widest = 1;
  for (const auto& row : rows) widest = std::max(widest, row.second);
  std::string text;
  for (const auto& [upper, count] : rows) {
    char line[160];
    const auto bar = static_cast<int>((count * kBarWidth + widest - 1) / widest);
    std::snprintf(line, sizeof line, "  <= %10s ms %10llu %6.2f%%", ms(upper).c_str(),
                  static_cast<unsigned long long>(count),
                  100.0 * static_cast<double>(count) / static_cast<double>(latency.count()));
    text += line;
    if (bar > 0) text += "  " + std::string(static_cast<std::size_t>(bar), '#');
    text += '\n';
  }
  return text;
}

std::string report_text(const BenchArgs& args, const BenchResult& result) {
  std::string text = "errand bench " + std::string(workload_name(result.workload)) + " against " +
                     args.server.url + ": " + result.unit + ", " + what_was_measured(args, result) +
                     "\n";
  text += runs_table(result);
  if (result.preload_seconds) {
    text += "enqueueing the jobs to drain took " + fixed(*result.preload_seconds, 2) + " s\n";
  }
  if (result.memory) text += memory_text(result);
  text += counts_text(result);
  for (const Run& run : result.runs) {
    text += "\nlatency of each " + result.latency_of + ", " + run.label + ":\n";
    text += latency_histogram_text(run.latency);
  }
  return text;
}

std::string report_json(const BenchArgs& args, const BenchResult& result) {
  json::array runs;
  for (const Run& run : result.runs) {
    json::object o{{"label", run.label},
                   {"count", run.count},
                   {"total", run.total},
                   {"seconds", run.seconds},
                   {"per_second", run.per_second()},
                   {"latency_ms", latency_json(run.latency)}};
    if (run.concurrency) o["concurrency"] = *run.concurrency;
    if (run.rate) o["rate"] = *run.rate;
    runs.push_back(std::move(o));
  }
  json::object counts;
  for (const auto& [state, count] : result.queue_counts) counts[state] = count;
  json::object doc{{"workload", workload_name(result.workload)},
                   {"server", args.server.url},
                   {"queue", result.queue},
                   {"settings", settings_json(args, result.workload)},
                   {"unit", result.unit},
                   {"latency_of", result.latency_of},
                   {"runs", std::move(runs)},
                   {"queue_counts", std::move(counts)}};
  if (result.preload_seconds) doc["preload_seconds"] = *result.preload_seconds;
  if (result.memory) {
    const MemoryUse& m = *result.memory;
    const bool known = m.before_bytes && m.with_waits_bytes;
    json::object memory{{"waits", result.waits},
                        {"source", known ? json::value(m.source) : json::value(nullptr)},
                        {"before_bytes", known ? json::value(*m.before_bytes) : nullptr},
                        {"with_waits_bytes", known ? json::value(*m.with_waits_bytes) : nullptr}};
    if (known) {
      const auto extra = static_cast<std::int64_t>(*m.with_waits_bytes) -
                         static_cast<std::int64_t>(*m.before_bytes);
      memory["extra_bytes"] = extra;
      memory["bytes_per_wait"] = extra / std::max<std::int64_t>(1, result.waits);
    } else {
      memory["extra_bytes"] = nullptr;
      memory["bytes_per_wait"] = nullptr;
    }
    doc["memory"] = std::move(memory);
  }
  return json::serialize(doc);
}

}  // namespace errand::bench
