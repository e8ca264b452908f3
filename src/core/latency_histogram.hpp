// A histogram of latencies (or any non-negative integers) with bounded
// relative error, for `errand bench`: every value goes into a log-linear
// bucket (the HdrHistogram layout: each power of two is cut into
// kSubBuckets equal parts), so a percentile is reported within 1/kSubBuckets
// (0.79%) of the true value, whatever the range, in a fixed 58 KiB. Two
// histograms merge by adding counts, so each caller can keep its own.
// Not thread-safe; pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace errand {

class LatencyHistogram {
 public:
  // 2^kSubBucketBits parts per power of two: values below kSubBuckets are
  // kept exactly, larger ones to within 1/kSubBuckets of themselves.
  static constexpr int kSubBucketBits = 7;
  static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBucketBits;

  LatencyHistogram();

  void record(std::uint64_t value);
  // Adds every value `other` recorded.
  void merge(const LatencyHistogram& other);
  void clear();

  std::uint64_t count() const { return count_; }
  // 0 when empty.
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const { return max_; }
  double mean() const;

  // The value at `percentile` (0..100, clamped): the smallest v such that at
  // least that share of the values are <= v, reported as the highest value
  // of its bucket but never above max() (so p100 is max() exactly, and
  // percentiles never decrease as `percentile` grows). 0 when empty.
  std::uint64_t percentile(double percentile) const;

  // How many recorded values are <= `value`, to within one bucket: counted
  // whole for the bucket `value` falls in. For a coarse text histogram.
  std::uint64_t count_at_or_below(std::uint64_t value) const;

 private:
  static std::size_t bucket_of(std::uint64_t value);
  // The largest value that falls in bucket `index`.
  static std::uint64_t highest_in(std::size_t index);

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace errand
