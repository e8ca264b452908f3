// What `errand bench` prints on stdout at the end: a table of the runs, a
// latency histogram per run and the workload's extras (w2's enqueue time,
// w4's memory, the queue's counts), or the same as one JSON document. Pure.
#pragma once

#include <string>

#include "bench/bench.hpp"
#include "bench/results.hpp"

namespace errand::bench {

std::string report_text(const BenchArgs& args, const BenchResult& result);

// One line of JSON; durations in seconds, latencies in milliseconds.
std::string report_json(const BenchArgs& args, const BenchResult& result);

// Rows of "<= BOUND ms  COUNT  PERCENT  ####": bounds double from below the
// smallest value to above the largest; each row counts the values above
// the previous bound and up to its own. Empty for an empty histogram.
std::string latency_histogram_text(const LatencyHistogram& latency);

}  // namespace errand::bench
