#include "metrics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <variant>

namespace errand::metrics {

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_->size() + 1)) {}

void Histogram::observe(double v) {
  // Prometheus buckets are "less than or equal": the first bound >= v.
  const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), v);
  buckets_[it - bounds_->begin()].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  // Derived from the buckets, not counted apart, so that _count always
  // equals the +Inf bucket even while observations race with the scrape.
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Go's strconv 'g' (what Prometheus' own clients print, e.g. le="0.0001"):
  // fixed notation unless the exponent is below -4 or at least 21.
  const double mag = std::fabs(v);
  const bool fixed = mag == 0 || (mag >= 1e-4 && mag < 1e21);
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v,
                               fixed ? std::chars_format::fixed : std::chars_format::scientific);
  return std::string(buf, r.ptr);
}

namespace {

// `{a="x",b="y"}` with `extra` (e.g. le="0.5") last; "" without any label.
std::string label_set(const std::vector<std::string>& names, const LabelValues& values,
                      std::string_view extra = {}) {
  if (names.empty() && extra.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i] + "=\"" + escape_label_value(i < values.size() ? values[i] : "") + "\"";
  }
  if (!extra.empty()) {
    if (!names.empty()) out += ',';
    out += extra;
  }
  return out + "}";
}

void header(std::string& out, const std::string& name, const std::string& help,
            std::string_view type) {
  out += "# HELP " + name + " " + escape_help(help) + "\n";
  out += "# TYPE " + name + " " + std::string(type) + "\n";
}

void render_family(std::string& out, const CounterFamily& f) {
  header(out, f.name(), f.help(), "counter");
  f.each([&](const LabelValues& values, const Counter& c) {
    out += f.name() + label_set(f.label_names(), values) + " " + std::to_string(c.value()) + "\n";
  });
}

void render_family(std::string& out, const GaugeFamily& f) {
  header(out, f.name(), f.help(), "gauge");
  f.each([&](const LabelValues& values, const Gauge& g) {
    out += f.name() + label_set(f.label_names(), values) + " " + format_value(g.value()) + "\n";
  });
}

void render_family(std::string& out, const HistogramFamily& f, const std::vector<double>& bounds) {
  header(out, f.name(), f.help(), "histogram");
  f.each([&](const LabelValues& values, const Histogram& h) {
    const Histogram::Snapshot s = h.snapshot();
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      const std::string le =
          "le=\"" + (i < bounds.size() ? format_value(bounds[i]) : std::string("+Inf")) + "\"";
      out += f.name() + "_bucket" + label_set(f.label_names(), values, le) + " " +
             std::to_string(s.cumulative[i]) + "\n";
    }
    const std::string labels = label_set(f.label_names(), values);
    out += f.name() + "_sum" + labels + " " + format_value(s.sum) + "\n";
    out += f.name() + "_count" + labels + " " + std::to_string(s.count) + "\n";
  });
}

}  // namespace

struct Registry::Entry {
  std::variant<std::unique_ptr<CounterFamily>, std::unique_ptr<GaugeFamily>,
               std::unique_ptr<HistogramFamily>>
      family;
  std::shared_ptr<const std::vector<double>> bounds;  // histograms only
};

Registry::Registry() = default;
Registry::~Registry() = default;

CounterFamily& Registry::counter(std::string name, std::string help,
                                 std::vector<std::string> labels, std::size_t max_series) {
  auto f = std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(labels),
                                           max_series, [] { return std::make_unique<Counter>(); });
  CounterFamily& ref = *f;
  std::lock_guard lock(mutex_);
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(f), nullptr}));
  return ref;
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels,
                             std::size_t max_series) {
  auto f = std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(labels),
                                         max_series, [] { return std::make_unique<Gauge>(); });
  GaugeFamily& ref = *f;
  std::lock_guard lock(mutex_);
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(f), nullptr}));
  return ref;
}

HistogramFamily& Registry::histogram(std::string name, std::string help, std::vector<double> bounds,
                                     std::vector<std::string> labels, std::size_t max_series) {
  auto shared = std::make_shared<const std::vector<double>>(std::move(bounds));
  auto f = std::make_unique<HistogramFamily>(
      std::move(name), std::move(help), std::move(labels), max_series,
      [shared] { return std::make_unique<Histogram>(shared); });
  HistogramFamily& ref = *f;
  std::lock_guard lock(mutex_);
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(f), shared}));
  return ref;
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& e : entries_) {
    std::visit(
        [&](const auto& family) {
          using F = std::decay_t<decltype(*family)>;
          if constexpr (std::is_same_v<F, HistogramFamily>) {
            render_family(out, *family, *e->bounds);
          } else {
            render_family(out, *family);
          }
        },
        e->family);
  }
  return out;
}

}  // namespace errand::metrics
