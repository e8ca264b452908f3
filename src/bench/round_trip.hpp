// W3's parts, which W4 runs too: the in-process worker that acks every job
// at once with a small result, and the callers that submit with
// `Prefer: wait` and take the result from the same answer, closed loop
// (C callers, each sending again as soon as it has its answer) or open loop
// (arrivals at fixed intervals, whatever the answers do).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

#include "bench/workloads.hpp"

namespace errand::bench {

// Confined to the io_context thread.
class RoundTripWorker {
 public:
  explicit RoundTripWorker(RunContext& context) : context_(context) {}

  // Spawns the lease loops into `group`.
  void start(TaskGroup& group);
  // Ends the lease loops (closing their connections cuts their long polls
  // short). REQUIRES: no caller is waiting for a job, so none is held.
  void stop();

 private:
  boost::asio::awaitable<void> lease_loop(HttpConnection& connection);

  RunContext& context_;
  std::vector<std::unique_ptr<HttpConnection>> connections_;
  bool stopping_ = false;
};

// `concurrency` callers for args.warmup_seconds, then measured for
// args.duration_seconds. Latency: each round trip from its send to its answer.
boost::asio::awaitable<Run> closed_loop(RunContext& context, int concurrency, std::string label);

// args.rate arrivals a second for the warm-up and the duration. Latency is
// counted from each arrival's intended send time, not from when a
// connection was free to send it: a stall delays the arrivals behind it and
// they count the delay (no coordinated omission).
boost::asio::awaitable<Run> open_loop(RunContext& context);

}  // namespace errand::bench
