// A small Prometheus metrics registry: counters, gauges and fixed-bucket
// histograms in labelled families, rendered in the text exposition format
// 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Written here rather than taken from a library: Debian packages no C++
// Prometheus client, and errand needs only this much.
//
// Recording is lock-cheap: a series is a few atomics, and a caller keeps the
// reference that with() returns (series live as long as the registry), so the
// hot path (commit thread, I/O threads) takes no lock. Finding or creating a
// series takes its family's mutex. Every family bounds its number of series:
// past `max_series`, new label sets share one series whose label values are
// all "_other", so a runaway label cannot grow memory or the scrape.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace errand::metrics {

// The label value that stands for every label set past a cap.
inline constexpr std::string_view kOtherLabel = "_other";

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Adds one to a gauge for its own lifetime: an open wait, an open stream.
class GaugeScope {
 public:
  explicit GaugeScope(Gauge& g) : gauge_(g) { gauge_.add(1); }
  ~GaugeScope() { gauge_.add(-1); }
  GaugeScope(const GaugeScope&) = delete;
  GaugeScope& operator=(const GaugeScope&) = delete;

 private:
  Gauge& gauge_;
};

class Histogram {
 public:
  // REQUIRES: `bounds` (the upper bounds of the buckets) strictly increasing
  // and finite; +Inf is implied.
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);

  void observe(double v);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;  // equals cumulative.back()
  };
  Snapshot snapshot() const;

 private:
  const std::shared_ptr<const std::vector<double>> bounds_;  // shared by a family's series
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;    // not cumulative; last is +Inf
  std::atomic<double> sum_{0};
};

using LabelValues = std::vector<std::string>;

// One metric name with its series, one per label set. Metric is Counter,
// Gauge or Histogram.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::size_t max_series, std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        max_series_(max_series),
        make_(std::move(make)) {}

  // The series of `values` (one per label name, in order), created when new.
  // The reference stays valid as long as the family.
  Metric& with(const LabelValues& values) {
    std::lock_guard lock(mutex_);
    auto it = series_.find(values);
    if (it != series_.end()) return *it->second;
    if (series_.size() >= max_series_) {
      LabelValues other(label_names_.size(), std::string(kOtherLabel));
      auto& slot = series_[other];
      if (!slot) slot = make_();
      return *slot;
    }
    return *(series_[values] = make_());
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Calls `f(values, metric)` for every series, in label order.
  template <typename F>
  void each(F&& f) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, metric] : series_) f(values, *metric);
  }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::size_t max_series_;
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Metric>> series_;  // GUARDED_BY(mutex_)
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  static constexpr std::size_t kDefaultMaxSeries = 10'000;

  Registry();
  ~Registry();

  // Each adds a family; names must be unique and valid Prometheus names.
  // The references stay valid as long as the registry.
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> labels = {},
                         std::size_t max_series = kDefaultMaxSeries);
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> labels = {},
                     std::size_t max_series = kDefaultMaxSeries);
  HistogramFamily& histogram(std::string name, std::string help, std::vector<double> bounds,
                             std::vector<std::string> labels = {},
                             std::size_t max_series = kDefaultMaxSeries);

  // The whole registry in the text format 0.0.4: families in the order they
  // were added, each with HELP and TYPE lines, series in label order.
  std::string render() const;

 private:
  struct Entry;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;  // GUARDED_BY(mutex_)
};

// The exposition's escaping: label values escape \, " and newline; HELP text
// escapes \ and newline.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// A sample value as Prometheus reads it: shortest round-trip form, "+Inf",
// "-Inf", "NaN".
std::string format_value(double v);

}  // namespace errand::metrics
