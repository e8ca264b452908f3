// JobIndex: the embedded store's scheduling state, all in memory. It holds
// every retained job record (not payloads, results or timelines), which jobs
// are ready in which order, one ordered set of timers for run_at, lease
// expiry, deadlines and retention, idempotency keys and per-queue counts.
//
// It decides nothing and does no I/O: EmbeddedBroker applies the rules and
// keeps RocksDB in step. Every change to a record goes through update(), which
// keeps the derived structures (ready sets, timers, counts) consistent.
//
// Not thread-safe: confined to EmbeddedBroker's mutex.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "core/job.hpp"

namespace errand::embedded {

enum class TimerKind : unsigned char { kActivate, kLeaseExpiry, kDeadline, kPurge };

struct Timer {
  Millis at;
  JobId id;
  TimerKind kind;
  auto operator<=>(const Timer&) const = default;
};

struct QueueState {
  std::string name;
  bool paused = false;
  std::int64_t counts[kJobStateCount] = {};
  std::int64_t enqueued_total = 0;
  std::int64_t succeeded_total = 0;
  std::int64_t failed_total = 0;
  // Lease order: higher priority first (stored negated, widened so that
  // negating INT_MIN cannot overflow), then the time the job became ready,
  // then id (creation order).
  std::set<std::tuple<std::int64_t, Millis, JobId>> ready;
};

class JobIndex {
 public:
  explicit JobIndex(Millis retention_ms) : retention_ms_(retention_ms) {}

  JobRecord* find(const JobId& id);
  JobRecord* find_by_key(std::string_view queue, std::string_view key);
  QueueState& queue(std::string_view name);  // creates it when new
  QueueState* find_queue(std::string_view name);
  const std::map<std::string, QueueState, std::less<>>& queues() const { return queues_; }
  const std::map<JobId, JobRecord>& records() const { return records_; }

  JobRecord& insert(JobRecord rec);
  void erase(const JobId& id);

  // Applies `change` to `rec` and re-derives its place in the ready sets,
  // timers, counts and key map.
  template <typename F>
  void update(JobRecord& rec, F&& change) {
    detach(rec);
    change(rec);
    attach(rec);
  }

  // The first ready job of `q` in lease order, if any.
  JobRecord* first_ready(QueueState& q);
  // Age of the oldest ready job of `q`, in ms at `now`.
  std::optional<std::int64_t> oldest_ready_ms(const QueueState& q, Millis now) const;

  std::optional<Millis> next_timer_at() const;
  // Removes and returns the timers due at `now`. The caller must update()
  // each record afterwards (even without a change) to re-arm what still holds.
  std::vector<Timer> take_due(Millis now);

  Millis retention_ms() const { return retention_ms_; }

 private:
  void attach(JobRecord& rec);
  void detach(const JobRecord& rec);
  std::vector<Timer> timers_of(const JobRecord& rec) const;

  Millis retention_ms_;
  std::map<JobId, JobRecord> records_;  // ordered: ids are time-ordered (listing)
  std::map<std::string, QueueState, std::less<>> queues_;
  std::set<Timer> timers_;
  std::map<std::pair<std::string, std::string>, JobId, std::less<>> keys_;  // (queue, key)
};

}  // namespace errand::embedded
