// JobIndex: the embedded store's scheduling state, all in memory. It holds
// every retained job record (not payloads, results or timelines), which jobs
// are ready in which order, one ordered set of timers for run_at, lease
// expiry, deadlines and retention, idempotency keys and per-queue counts.
//
// It decides nothing and does no I/O: EmbeddedBroker applies the rules and
// keeps RocksDB in step. Every change to a record goes through update(), which
// keeps the derived structures (ready sets, timers, counts) consistent.
//
// Records are kept compact: as the bytes the store encodes them to (about
// 80 bytes for a plain job, where a JobRecord is 576), because a million
// queued jobs must fit in a few hundred MB. find(), insert() and
// first_ready() hand out a decoded JobRecord from a working set; settle()
// encodes the working set back and empties it. A JobRecord* is valid until
// the next settle() (EmbeddedBroker settles whenever it releases its mutex).
//
// Not thread-safe: confined to EmbeddedBroker's mutex.
#pragma once

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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

// A queue's ready jobs in lease order: higher priority first (stored negated,
// widened so that negating INT_MIN cannot overflow), then the time the job
// became ready, then id (creation order). An order-statistics tree (libstdc++'s
// policy-based red-black tree, a std::set whose nodes also count their
// subtree) so that a job's place in line is O(log n): waiting_on's `ahead`.
using ReadyKey = std::tuple<std::int64_t, Millis, JobId>;
using ReadySet =
    __gnu_pbds::tree<ReadyKey, __gnu_pbds::null_type, std::less<ReadyKey>, __gnu_pbds::rb_tree_tag,
                     __gnu_pbds::tree_order_statistics_node_update>;

// The key of `rec` in its queue's ReadySet (whether or not it is ready now).
inline ReadyKey ready_key(const JobRecord& rec) {
  return {-std::int64_t{rec.priority}, rec.run_at, rec.id};
}

// A record at rest: its binary fields (record_codec's append_job_fields:
// all but the id, which is the key) in one allocation that starts with
// their length. 8 bytes in the map node, so a node is 64 bytes.
class PackedJob {
 public:
  std::string_view fields() const {
    if (!data_) return {};
    std::uint32_t size;
    std::memcpy(&size, data_.get(), sizeof size);
    return {data_.get() + sizeof size, size};
  }
  void assign(std::string_view fields) {
    const auto size = static_cast<std::uint32_t>(fields.size());
    if (fields.size() != this->fields().size() || !data_) {
      data_ = std::make_unique_for_overwrite<char[]>(sizeof size + size);
      std::memcpy(data_.get(), &size, sizeof size);
    }
    std::memcpy(data_.get() + sizeof size, fields.data(), size);
  }

 private:
  std::unique_ptr<char[]> data_;
};

struct QueueState {
  std::string name;
  bool paused = false;
  std::int64_t max_queued = 0;  // 0: no limit
  std::int64_t counts[kJobStateCount] = {};
  std::int64_t enqueued_total = 0;
  std::int64_t succeeded_total = 0;
  std::int64_t failed_total = 0;
  ReadySet ready;
};

class JobIndex {
 public:
  explicit JobIndex(Millis retention_ms) : retention_ms_(retention_ms) {}

  JobRecord* find(const JobId& id);
  JobRecord* find_by_key(std::string_view queue, std::string_view key);
  QueueState& queue(std::string_view name);  // creates it when new
  QueueState* find_queue(std::string_view name);
  const std::map<std::string, QueueState, std::less<>>& queues() const { return queues_; }
  // Every record at rest, by id. REQUIRES: settled (nothing found since).
  // (peek_job_fields reads a packed record's queue and state.)
  const std::map<JobId, PackedJob>& records() const { return records_; }

  JobRecord& insert(JobRecord rec);
  // insert() for a record read at start-up: straight to rest.
  void load(const JobRecord& rec);
  void erase(JobId id);
  // Encodes every record found or inserted since the last settle() back to
  // rest; the JobRecord pointers handed out since become invalid.
  void settle();
  std::size_t working_size() const { return working_.size(); }

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
  // How many ready jobs of `q` a lease takes before `rec`. O(log n).
  std::int64_t ready_ahead(const QueueState& q, const JobRecord& rec) const;
  // Age of the oldest ready job of `q`, in ms at `now`.
  std::optional<std::int64_t> oldest_ready_ms(const QueueState& q, Millis now) const;

  std::optional<Millis> next_timer_at() const;
  // Removes and returns the timers due at `now`. The caller must update()
  // each record afterwards (even without a change) to re-arm what still holds.
  std::vector<Timer> take_due(Millis now);

  Millis retention_ms() const { return retention_ms_; }

 private:
  void attach(const JobRecord& rec);
  void detach(const JobRecord& rec);
  std::vector<Timer> timers_of(const JobRecord& rec) const;
  // Packs `rec` into `at`.
  void pack(PackedJob& at, const JobRecord& rec);

  Millis retention_ms_;
  std::map<JobId, PackedJob> records_;  // ordered: ids are time-ordered (listing)
  // The records decoded since the last settle(); node-based, so pointers hold.
  std::unordered_map<JobId, JobRecord, JobIdHash> working_;
  std::string scratch_;  // pack()'s buffer, kept for its capacity
  std::map<std::string, QueueState, std::less<>> queues_;
  std::set<Timer> timers_;
  std::map<std::pair<std::string, std::string>, JobId, std::less<>> keys_;  // (queue, key)
};

}  // namespace errand::embedded
