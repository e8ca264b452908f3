// Blocking calls on a Broker, and a store's worth of jobs and flows in every
// state, for the fuzz targets and the corpus generator. Not part of errand.
//
// Thread-safe as the Broker is; each call blocks its caller until the broker
// calls back.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "engine/broker.hpp"

namespace errand::fuzz {

// Starts `start(callback)` and waits for its answer. A broker that does not
// answer within a minute is a hang: abort, so that libFuzzer reports it.
template <typename T, typename Start>
Result<T> call(Start&& start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  start([promise](Result<T> r) { promise->set_value(std::move(r)); });
  if (future.wait_for(std::chrono::minutes(1)) != std::future_status::ready) {
    std::fprintf(stderr, "fuzz: the broker did not call back within a minute\n");
    std::abort();
  }
  return future.get();
}

// Ids and the lease token of what populate() made.
struct Fixtures {
  JobId queued;       // queued, with tags, an idempotency key and a deadline
  JobId running;      // leased by "fuzz-worker" for a day
  std::string lease;  // the lease token of `running`
  JobId succeeded;    // acked with a result
  JobId failed;       // failed for good, error recorded
  JobId flow;         // a running flow of three steps, one with a compensation
};

// Submits, leases, acks and fails jobs, and submits a flow, on queues whose
// names start with `prefix`, after making sure that those queues take and
// hand out jobs (not paused, no limit: a fuzz input may have set either).
// Aborts when the broker refuses any of it.
Fixtures populate(Broker& broker, const std::string& prefix);

}  // namespace errand::fuzz
