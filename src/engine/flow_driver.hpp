// What each change of a flow does (SPEC §3 Flows), written once for every
// store, as job_transitions.hpp is for jobs: core/flow.hpp's plan() decides,
// and these functions carry its decisions out through a FlowHost — make the
// jobs it starts, cancel the jobs it stops, record the flow's timeline
// events — and keep the FlowRecord in step. A store finds and locks the flow
// its own way (memory, or a row FOR UPDATE), calls one of these inside the
// same durable write as the job change that caused it, and writes the
// record back.
//
// No I/O of its own, no clock: everything goes through the host.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/job.hpp"
#include "core/status.hpp"
#include "engine/flow.hpp"
#include "engine/flow_record.hpp"

namespace errand {

// What a store gives the flow rules, inside one change (one write batch or
// one transaction). Not thread-safe: confined to that change.
class FlowHost {
 public:
  // Stores a new job from `spec` (its flow is set) in this change, as a
  // submit would; returns its id.
  virtual JobId create_job(SubmitSpec spec, Millis now) = 0;
  // The job `id` as this change sees it, or nullopt when it is gone.
  virtual std::optional<JobRecord> find_job(const JobId& id) = 0;
  // Cancels job `id` in this change (job_transitions' cancel_job: a queued
  // or scheduled job ends now, and its end must reach advance_flow() like
  // any other; a running one is asked to stop). False, doing nothing, when
  // the job is gone or finished.
  virtual bool cancel_job(const JobId& id, Millis now) = 0;
  // The result of job `id` as this change sees it; empty when it has none.
  virtual std::string result_of(const JobId& id) = 0;
  // Appends the flow's next timeline event (bumps f.timeline_seq).
  virtual void flow_event(FlowRecord& f, Millis at, std::string_view type,
                          std::string_view fields = {}) = 0;

 protected:
  ~FlowHost() = default;
};

// What tells a replay of a flow submit from a conflict: its name, and each
// step's name, queue, payload, after and compensation.
std::uint64_t flow_content_hash(const FlowSpec& spec);

// A new flow `id` from `spec`, nothing started yet. Caps each step's
// deadline at the flow's (compensations are not capped: they must run).
FlowRecord new_flow(FlowSpec spec, const JobId& id, Millis now);
// Records the flow's start and starts its first steps.
void start_flow(FlowRecord& f, FlowHost& host, Millis now);
// Job `job` of flow `f` moved to the terminal state `to`: records it and
// drives the flow on. False, changing nothing, when the job is not one the
// flow waits for (the flow is over, or it is an old job of the step).
bool advance_flow(FlowRecord& f, const JobRecord& job, JobState to, FlowHost& host, Millis now);
// POST /v1/flows/{id}/cancel. REQUIRES: check_flow_cancel(f) is ok.
void request_flow_cancel(FlowRecord& f, FlowHost& host, Millis now);

// The answers every store gives when a flow call is refused.
Status flow_not_found(const JobId& id);
// kConflict when the key is taken by a flow with other content; else ok.
Status check_flow_replay(const FlowRecord& existing, std::uint64_t content_hash);
// kConflict when `f` is over; else ok.
Status check_flow_cancel(const FlowRecord& f);

// The flow as read, without results (add_flow_results adds them). `job`
// gives the flow's jobs still in the store (nullptr: gone), whose states
// say more than the flow's own record (running, scheduled...).
using FlowJobLookup = std::function<const JobRecord*(const JobId&)>;
FlowView flow_view(const FlowRecord& f, const FlowJobLookup& job);
// Adds the succeeded steps' results, and the flow's once it succeeded.
// `result_of` reads a job's result; empty when it has none (or is gone).
using ResultReader = std::function<std::string(const JobId&)>;
void add_flow_results(FlowView& v, const ResultReader& result_of);

// What a leased job of a flow gets beside its payload: the flow, and the
// jobs whose results are its inputs.
struct FlowInputs {
  LeasedFlow flow;
  std::vector<std::pair<std::string, JobId>> from;  // step name, its job
};
// nullopt for a job outside flows; `f` is the job's flow, nullptr when gone.
std::optional<FlowInputs> flow_inputs_of(const FlowRecord* f, const JobRecord& job);
// Fills p.flow.inputs_json from the results.
void read_flow_inputs(FlowInputs& p, const ResultReader& result_of);

}  // namespace errand
