// The embedded store's flows in memory: each flow's definition, where its
// steps are (core/flow.hpp's FlowStatus) and which jobs it made. Every flow
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

#include "core/flow.hpp"
#include "engine/flow.hpp"

namespace errand::embedded {

struct FlowStepEntry {
  std::string name;
  std::vector<std::string> after;
  std::string queue;
  std::optional<JobId> job;
  std::optional<SubmitSpec> spec;  // until its job is made (or it is skipped)
  bool compensable = false;
  std::optional<SubmitSpec> compensate;  // until its compensation job is made
  std::optional<JobId> compensation_job;
};

struct FlowEntry {
  JobId id;
  std::string name;
  Millis created_at = 0;
  std::optional<Millis> finished_at;
  std::optional<Millis> deadline;
  std::string idempotency_key;
  std::uint64_t content_hash = 0;  // tells a replay from a conflict
  std::string traceparent;
  std::vector<FlowStepEntry> steps;
  FlowStatus status;
  std::optional<FlowError> error;
  std::uint32_t timeline_seq = 0;
  FlowGraph graph;  // derived from steps: not stored

  std::optional<std::size_t> step_index(std::string_view step) const {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (steps[i].name == step) return i;
    }
    return std::nullopt;
  }
  std::vector<FlowStepShape> shape() const {
    std::vector<FlowStepShape> out;
    for (const auto& s : steps) out.push_back({s.name, s.after, s.compensable});
    return out;
  }
};

class FlowBook {
 public:
  explicit FlowBook(Millis retention_ms) : retention_ms_(retention_ms) {}

  FlowEntry& insert(FlowEntry e) {
    e.graph = flow_graph(e.shape());
    if (!e.idempotency_key.empty()) by_key_[e.idempotency_key] = e.id;
    const JobId id = e.id;
    FlowEntry& stored = flows_.insert_or_assign(id, std::move(e)).first->second;
    if (stored.finished_at) finished(stored);
    return stored;
  }
  // `f` just finished (its finished_at is set): it will be purged.
  void finished(const FlowEntry& f) { purges_.emplace(*f.finished_at + retention_ms_, f.id); }
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
  FlowEntry* find(const JobId& id) {
    auto it = flows_.find(id);
    return it == flows_.end() ? nullptr : &it->second;
  }
  FlowEntry* find_by_key(const std::string& key) {
    auto it = by_key_.find(key);
    return it == by_key_.end() ? nullptr : find(it->second);
  }
  // Newest first (ids are time-ordered), starting below `before` when set.
  template <typename Visit>  // bool(const FlowEntry&): false stops
  void newest_first(const std::optional<JobId>& before, Visit visit) const {
    auto it = before ? flows_.lower_bound(*before) : flows_.end();
    while (it != flows_.begin()) {
      --it;
      if (!visit(it->second)) return;
    }
  }

 private:
  Millis retention_ms_;
  std::map<JobId, FlowEntry> flows_;
  std::unordered_map<std::string, JobId> by_key_;
  std::set<std::pair<Millis, JobId>> purges_;  // (when, flow)
};

// A flow's record in the store, and back (docs/storage-format.md).
std::string encode_flow(const FlowEntry& f);
std::optional<FlowEntry> decode_flow(std::string_view value);

}  // namespace errand::embedded
