// The embedded store's flows in memory: each flow's record
// (engine/flow_record.hpp: its definition, where its steps are and which
// jobs it made). Every flow
// is here, finished or not, so that reads and lists need no disk; the specs
// of steps and compensations not started yet are dropped once they start or
// the flow ends. A finished flow is purged `retention` after it finished,
// whatever its state (its dead-lettered step jobs stay until discarded).
//
// Not thread-safe: the broker's mutex guards it.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/flow_record.hpp"

namespace errand::embedded {

class FlowBook {
 public:
  explicit FlowBook(Millis retention_ms) : retention_ms_(retention_ms) {}

  // REQUIRES: e.graph is set (new_flow and decode_flow set it).
  FlowRecord& insert(FlowRecord e) {
    if (!e.idempotency_key.empty()) by_key_[e.idempotency_key] = e.id;
    const JobId id = e.id;
    FlowRecord& stored = flows_.insert_or_assign(id, std::move(e)).first->second;
    if (stored.finished_at) finished(stored);
    return stored;
  }
  // `f` just finished (its finished_at is set): it will be purged.
  void finished(const FlowRecord& f) { purges_.emplace(*f.finished_at + retention_ms_, f.id); }
  // The flows whose retention ran out by `now`, taken out of the book.
  std::vector<JobId> take_due(Millis now) {
    std::vector<JobId> due;
    while (!purges_.empty() && purges_.begin()->first <= now) {
      const JobId id = purges_.begin()->second;
      purges_.erase(purges_.begin());
      if (auto it = flows_.find(id); it != flows_.end()) {
        by_key_.erase(it->second.idempotency_key);
        flows_.erase(it);
        due.push_back(id);
      }
    }
    return due;
  }
  std::optional<Millis> next_purge_at() const {
    if (purges_.empty()) return std::nullopt;
    return purges_.begin()->first;
  }
  FlowRecord* find(const JobId& id) {
    auto it = flows_.find(id);
    return it == flows_.end() ? nullptr : &it->second;
  }
  FlowRecord* find_by_key(const std::string& key) {
    auto it = by_key_.find(key);
    return it == by_key_.end() ? nullptr : find(it->second);
  }
  // Newest first (ids are time-ordered), starting below `before` when set.
  template <typename Visit>  // bool(const FlowRecord&): false stops
  void newest_first(const std::optional<JobId>& before, Visit visit) const {
    auto it = before ? flows_.lower_bound(*before) : flows_.end();
    while (it != flows_.begin()) {
      --it;
      if (!visit(it->second)) return;
    }
  }

 private:
  Millis retention_ms_;
  std::map<JobId, FlowRecord> flows_;
  std::unordered_map<std::string, JobId> by_key_;
  std::set<std::pair<Millis, JobId>> purges_;  // (when, flow)
};

}  // namespace errand::embedded
