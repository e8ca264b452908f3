// A flow as a store keeps it: its definition, where its steps are
// (core/flow.hpp's FlowStatus) and which jobs it made. Both stores keep the
// same record and encode it the same way (encode_flow: one versioned JSON
// object, docs/storage-format.md): the embedded store as a value of its
// `flows` column family, the PostgreSQL store in errand.flows.record.
//
// A plain value: not thread-safe; its store guards it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/flow.hpp"
#include "engine/flow.hpp"

namespace errand {

// The version of the flow record's JSON ("v"). Bump it as
// docs/storage-format.md says when its shape changes.
inline constexpr int kFlowRecordVersion = 1;

struct FlowStepRecord {
  std::string name;
  std::vector<std::string> after;
  std::string queue;
  std::optional<JobId> job;
  std::optional<SubmitSpec> spec;  // until its job is made (or it is skipped)
  bool compensable = false;
  std::optional<SubmitSpec> compensate;  // until its compensation job is made
  std::optional<JobId> compensation_job;
};

struct FlowRecord {
  JobId id;
  std::string name;
  Millis created_at = 0;
  std::optional<Millis> finished_at;
  std::optional<Millis> deadline;
  std::string idempotency_key;
  std::uint64_t content_hash = 0;  // tells a replay from a conflict
  std::string traceparent;
  std::vector<FlowStepRecord> steps;
  FlowStatus status;
  std::optional<FlowError> error;
  std::uint32_t timeline_seq = 0;
  FlowGraph graph;  // derived from steps (decode_flow sets it): not stored

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

// The record as stored, and back; nullopt when `value` is not a flow record
// of this version (damaged, or written by a newer errand).
std::string encode_flow(const FlowRecord& f);
std::optional<FlowRecord> decode_flow(std::string_view value);

}  // namespace errand
