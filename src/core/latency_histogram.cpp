#include "core/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace errand {
namespace {

// Values below kSubBuckets take one bucket each; every power of two above,
// from 2^kSubBucketBits to 2^63, takes kSubBuckets more.
constexpr std::size_t kBucketCount =
    (64 - LatencyHistogram::kSubBucketBits + 1) * LatencyHistogram::kSubBuckets;

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBucketCount, 0) {}

std::size_t LatencyHistogram::bucket_of(std::uint64_t value) {
  if (value < kSubBuckets) return static_cast<std::size_t>(value);
  // value is in [2^e, 2^(e+1)) with e >= kSubBucketBits; dropping the low
  // `shift` bits leaves kSubBucketBits + 1 bits, of which the top one is set.
  const int e = std::bit_width(value) - 1;
  const int shift = e - kSubBucketBits;
  return static_cast<std::size_t>(shift) * kSubBuckets + static_cast<std::size_t>(value >> shift);
}

std::uint64_t LatencyHistogram::highest_in(std::size_t index) {
  if (index < kSubBuckets) return index;
  const std::size_t block = index / kSubBuckets;
  const int shift = static_cast<int>(block) - 1;
  const std::uint64_t lowest = (kSubBuckets + index % kSubBuckets) << shift;
  return lowest + ((std::uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(std::uint64_t value) {
  ++counts_[bucket_of(value)];
  min_ = count_ == 0 ? value : std::min(min_, value);
  max_ = std::max(max_, value);
  ++count_;
  sum_ += static_cast<long double>(value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

void LatencyHistogram::clear() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = 0;
  max_ = 0;
  sum_ = 0;
}

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t LatencyHistogram::percentile(double percentile) const {
  if (count_ == 0) return 0;
  const double share = std::clamp(percentile, 0.0, 100.0) / 100.0;
  // The rank (1-based) of the value asked for; at least the first value. A
  // product that should be whole but comes out a hair above (0.07 * 100 is
  // 7.000000000000001) is nudged down, or it would rank one too high.
  const double exact = share * static_cast<double>(count_) * (1 - 1e-12);
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(exact)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(highest_in(i), max_);
  }
  return max_;
}

std::uint64_t LatencyHistogram::count_at_or_below(std::uint64_t value) const {
  const std::size_t last = bucket_of(value);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= last; ++i) total += counts_[i];
  return total;
}

}  // namespace errand
