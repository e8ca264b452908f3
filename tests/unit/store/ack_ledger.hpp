// AckLedger and Workload: concurrent producers and workers that drive a
// Broker and write down every operation they tried and every one the broker
// acknowledged (its callback reported success: what a 2xx would have
// answered), and the check of a store against that ledger.
//
// After a crash, a disk failure or a restart, SPEC §2 asks that
//   - every acknowledged submit is present, with its payload;
//   - every acknowledged ack is still succeeded (and never delivered again);
//   - every acknowledged lease is still running with its token (§2.5) and
//     is not delivered to anybody else;
// and nothing may appear that nobody asked for. An operation that failed
// was answered with an error and may or may not have happened (its write
// may have reached the disk before the power went); check() counts those
// "indeterminate" jobs apart.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/job_id.hpp"
#include "engine/broker.hpp"

namespace errand::testing {

class AckLedger {
 public:
  void submit_tried(const std::string& payload);
  void submit_acked(const JobId& id, const std::string& payload);
  void lease_failed();  // its jobs (if any) are unknown
  void lease_acked(const JobId& id, const std::string& token, const std::string& payload);
  void ack_tried(const JobId& id);
  void ack_acked(const JobId& id);

  struct Report {
    std::uint64_t checked = 0;          // acknowledged operations checked
    std::uint64_t lost = 0;             // acknowledged, yet not in the store
    std::uint64_t unexplained = 0;      // a job or state nobody asked for
    std::uint64_t indeterminate = 0;    // present although its operation failed
    std::vector<std::string> problems;  // the first few lost or unexplained, in words
  };
  // Reads every job in `queues` of `broker` and checks the ledger against
  // them. With `lease_all` it then leases every ready job, to check that no
  // acknowledged ack or lease is delivered again (this changes the store).
  Report check(Broker& broker, const std::vector<std::string>& queues, bool lease_all) const;

  std::uint64_t acknowledged() const;
  // Some job whose submit was acknowledged, if any.
  std::optional<JobId> an_acknowledged_job() const;

 private:
  struct JobFacts {
    std::string payload;
    bool submit_acked = false;
    std::optional<std::string> lease;  // the token of an acknowledged lease
    bool ack_tried = false;
    bool ack_acked = false;
  };
  mutable std::mutex mutex_;
  std::set<std::string> payloads_tried_;  // GUARDED_BY(mutex_)
  std::map<JobId, JobFacts> jobs_;        // GUARDED_BY(mutex_): acknowledged operations
  std::uint64_t leases_failed_ = 0;       // GUARDED_BY(mutex_)
  std::uint64_t acked_ops_ = 0;           // GUARDED_BY(mutex_)
};

// Threads that submit (batches of one to three jobs, payloads unique per
// run), lease and ack through a Broker, each with its own seeded random
// sequence, recording everything in a ledger. Operations keep going when the
// broker answers errors, a millisecond later.
class Workload {
 public:
  struct Options {
    std::uint64_t seed = 1;
    int threads = 3;
    int ops_per_thread = 12;  // 0: until stop()
    std::vector<std::string> queues = {"power-a", "power-b"};
  };
  Workload(Broker& broker, AckLedger& ledger, Options options);
  ~Workload();  // stop() and join()
  void stop();
  void join();
  // Operations answered so far, successful or not.
  std::uint64_t answered() const { return answered_.load(); }

 private:
  void run(int thread);

  Broker& broker_;
  AckLedger& ledger_;
  const Options options_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> answered_{0};
  std::vector<std::thread> threads_;
};

}  // namespace errand::testing
