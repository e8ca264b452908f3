// The embedded store's flows in memory: each flow's definition, where its
// steps are (core/flow.hpp's FlowStatus) and which jobs it made. Every flow
// is here, finished or not, so that reads and lists need no disk; the specs
// of steps and compensations not started yet are dropped once they start or
// the flow ends.
//
// Not thread-safe: the broker's mutex guards it.
#pragma once

#include <map>
#include <optional>
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
  FlowEntry& insert(FlowEntry e) {
    e.graph = flow_graph(e.shape());
    if (!e.idempotency_key.empty()) by_key_[e.idempotency_key] = e.id;
    const JobId id = e.id;
    return flows_.insert_or_assign(id, std::move(e)).first->second;
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
  std::map<JobId, FlowEntry> flows_;
  std::unordered_map<std::string, JobId> by_key_;
};

// A flow's record in the store, and back (docs/storage-format.md).
std::string encode_flow(const FlowEntry& f);
std::optional<FlowEntry> decode_flow(std::string_view value);

}  // namespace errand::embedded
