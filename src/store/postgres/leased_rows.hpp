// Jobs this server leased, as the lease's commit (or a heartbeat's since)
// left their rows, so that their ack, heartbeat or failure report writes
// without reading the row first (PostgresBroker::ack_jobs, leased_job):
// one round trip to PostgreSQL instead of two.
//
// Only a hint, never trusted: the UPDATE writes a row only if it is still
// the version that commit wrote (its xmin, the id of the transaction that
// wrote it), and fails the transaction otherwise, which then goes
// again reading (job_rows.hpp, the _as_read statements). So an entry may be
// stale; forgetting the rows this server writes and the changes it hears
// of only spares a wasted try. An entry is used once (take()), and only
// by the lease it remembers.
//
// Bounded by a count and by bytes (payloads): past either the oldest are
// forgotten, and their acks read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/job.hpp"
#include "core/job_id.hpp"

namespace errand::postgres {

class LeasedRows {
 public:
  struct Row {
    JobRecord record;
    std::string payload_json;
    std::string xmin;  // the transaction that wrote the row, as PostgreSQL prints an xid
  };

  LeasedRows(std::size_t capacity, std::size_t byte_budget)
      : capacity_(capacity), byte_budget_(byte_budget) {}

  void put(Row row) {
    std::lock_guard lock(mutex_);
    const JobId id = row.record.id;
    erase(id);
    const std::size_t bytes = sizeof(Entry) + row.payload_json.size();
    if (bytes > byte_budget_) return;
    const std::uint64_t put = ++puts_;
    rows_.emplace(id, Entry{std::move(row), put, bytes});
    order_.emplace_back(id, put);
    bytes_ += bytes;
    while (rows_.size() > capacity_ || bytes_ > byte_budget_) {
      const auto [oldest, when] = order_.front();
      order_.pop_front();
      // Only that very entry: one taken and put again is younger.
      if (const auto it = rows_.find(oldest); it != rows_.end() && it->second.put == when) {
        erase(oldest);
      }
    }
    // Places of entries taken or forgotten go when they come to the front,
    // or all at once when they outnumber the entries.
    if (order_.size() > 2 * capacity_) compact();
  }

  // The row of job `id` if it was left running under `lease`; forgotten
  // here either way (an entry of another lease is of no use to anyone).
  std::optional<Row> take(const JobId& id, const std::string& lease) {
    std::lock_guard lock(mutex_);
    const auto it = rows_.find(id);
    if (it == rows_.end()) return std::nullopt;
    Row row = std::move(it->second.row);
    bytes_ -= it->second.bytes;
    rows_.erase(it);
    if (row.record.state != JobState::kRunning || row.record.lease_token != lease) {
      return std::nullopt;
    }
    return row;
  }

  void forget(const JobId& id) {
    std::lock_guard lock(mutex_);
    erase(id);
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return rows_.size();
  }

 private:
  struct Entry {
    Row row;
    std::uint64_t put = 0;
    std::size_t bytes = 0;
  };
  void erase(const JobId& id) {  // REQUIRES: mutex_ held
    const auto it = rows_.find(id);
    if (it == rows_.end()) return;
    bytes_ -= it->second.bytes;
    rows_.erase(it);
  }
  void compact() {  // REQUIRES: mutex_ held
    std::erase_if(order_, [this](const auto& place) {
      const auto it = rows_.find(place.first);
      return it == rows_.end() || it->second.put != place.second;
    });
  }

  const std::size_t capacity_;
  const std::size_t byte_budget_;
  mutable std::mutex mutex_;
  std::size_t bytes_ = 0;                              // GUARDED_BY(mutex_)
  std::uint64_t puts_ = 0;                             // GUARDED_BY(mutex_)
  std::unordered_map<JobId, Entry, JobIdHash> rows_;   // GUARDED_BY(mutex_)
  std::deque<std::pair<JobId, std::uint64_t>> order_;  // GUARDED_BY(mutex_), oldest first
};

}  // namespace errand::postgres
