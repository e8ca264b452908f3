#include "engine/flow_driver.hpp"

#include "core/fingerprint.hpp"
#include "engine/timeline.hpp"

namespace errand {
namespace {

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Step names are [A-Za-z0-9_.-] (validate_flow_shape): quoting needs no escapes.
std::string step_member(std::string_view step) { return "\"step\":" + quoted(step); }

std::string step_job_fields(std::string_view step, const JobId& job) {
  return step_member(step) + "," + json_member("job", job.to_string());
}

std::string step_state_name(StepPhase phase) {
  switch (phase) {
    case StepPhase::kPending:
      return "pending";
    case StepPhase::kSkipped:
      return "skipped";
    case StepPhase::kActive:
      return "queued";
    case StepPhase::kSucceeded:
      return "succeeded";
    case StepPhase::kFailed:
      return "failed";
    case StepPhase::kCancelled:
      return "cancelled";
  }
  return "pending";
}

std::string compensation_state_name(CompensationPhase phase) {
  switch (phase) {
    case CompensationPhase::kNone:
      return "";
    case CompensationPhase::kActive:
      return "queued";
    case CompensationPhase::kSucceeded:
      return "succeeded";
    case CompensationPhase::kFailed:
      return "failed";
  }
  return "";
}

// Sets f.error from the step that failed, once.
void note_failure(FlowRecord& f, FlowHost& host) {
  if (!f.status.failed_step || f.error) return;
  const FlowStepRecord& s = f.steps[*f.status.failed_step];
  const auto r = s.job ? host.find_job(*s.job) : std::nullopt;
  f.error = FlowError{s.name, "step " + s.name + " did not succeed", ""};
  if (r && r->error) {
    f.error->message = r->error->message;
    f.error->type = r->error->type;
  } else if (r) {  // expired, or cancelled by someone else than the flow
    f.error->message = "the job of step " + s.name + " was " + std::string(to_string(r->state));
    f.error->type = std::string(to_string(r->state));
  }
}

// {"<sink step>": <result>, ...} of a flow whose steps all succeeded.
std::string flow_result(const FlowRecord& f, FlowHost& host) {
  std::string result = "{";
  for (std::size_t i : sink_steps(f.graph)) {
    std::string value = host.result_of(*f.steps[i].job);
    if (value.empty()) value = "null";
    result += (result.size() > 1 ? "," : "") + quoted(f.steps[i].name) + ":" + value;
  }
  return result + "}";
}

// Applies plan() to `f` until it asks for nothing more.
void drive_flow(FlowRecord& f, FlowHost& host, Millis now) {
  // Each round settles something for good, so a flow of n steps settles in
  // a few rounds; the bound only guards against a planner bug.
  for (std::size_t round = 0; round < 3 * f.steps.size() + 4; ++round) {
    const FlowActions a = plan(f.graph, f.status);
    if (a.empty()) break;
    if (a.state == FlowState::kCompensating) {
      note_failure(f, host);
      host.flow_event(
          f, now, "compensating",
          f.status.failed_step ? step_member(f.steps[*f.status.failed_step].name) : std::string());
    }
    for (std::size_t i : a.start) {
      FlowStepRecord& s = f.steps[i];
      SubmitSpec spec = std::move(*s.spec);
      s.spec.reset();
      spec.flow = FlowRef{f.id, s.name, false};
      spec.traceparent = f.traceparent;
      s.job = host.create_job(std::move(spec), now);
      host.flow_event(f, now, "step_started", step_job_fields(s.name, *s.job));
    }
    for (std::size_t i : a.skip) {
      f.steps[i].spec.reset();
      host.flow_event(f, now, "step_skipped", step_member(f.steps[i].name));
    }
    for (std::size_t i : a.cancel) {
      // A queued job ends now: the host reports that change back to advance_flow().
      const JobId job = *f.steps[i].job;
      if (!host.cancel_job(job, now)) continue;
      host.flow_event(f, now, "step_cancel_requested", step_job_fields(f.steps[i].name, job));
    }
    if (a.compensate) {
      FlowStepRecord& s = f.steps[*a.compensate];
      SubmitSpec spec = std::move(*s.compensate);
      s.compensate.reset();
      spec.flow = FlowRef{f.id, s.name, true};
      spec.traceparent = f.traceparent;
      s.compensation_job = host.create_job(std::move(spec), now);
      host.flow_event(f, now, "compensation_started", step_job_fields(s.name, *s.compensation_job));
    }
    if (a.state) {
      note_failure(f, host);
      switch (*a.state) {
        case FlowState::kCompensating:  // said above, before what it does
          break;
        case FlowState::kSucceeded:
          host.flow_event(f, now, "succeeded", "\"result\":" + flow_result(f, host));
          break;
        case FlowState::kFailed:
          host.flow_event(f, now, "failed",
                          "\"error\":{" + step_member(f.error->step) + "," +
                              json_member("message", f.error->message) + ",\"type\":" +
                              (f.error->type.empty() ? "null" : quoted(f.error->type)) + "}");
          break;
        case FlowState::kCancelled:
          host.flow_event(f, now, "cancelled");
          break;
        case FlowState::kRunning:
          break;
      }
      if (is_terminal(*a.state)) {
        f.finished_at = now;
        for (FlowStepRecord& s : f.steps) s.compensate.reset();  // never needed now
      }
    }
    apply(f.status, a);
  }
}

}  // namespace

std::uint64_t flow_content_hash(const FlowSpec& spec) {
  std::string text = spec.name;
  for (const FlowStepSpec& s : spec.steps) {
    text += '\0' + s.name + '\0' + s.job.queue + '\0' + s.job.payload_json;
    for (const auto& a : s.after) text += '\1' + a;
    if (s.compensate) text += '\2' + s.compensate->queue + '\0' + s.compensate->payload_json;
  }
  return fingerprint(text);
}

FlowRecord new_flow(FlowSpec spec, const JobId& id, Millis now) {
  FlowRecord f;
  f.id = id;
  f.content_hash = flow_content_hash(spec);
  f.name = std::move(spec.name);
  f.created_at = now;
  f.deadline = spec.deadline;
  f.idempotency_key = std::move(spec.idempotency_key);
  f.traceparent = std::move(spec.traceparent);
  for (FlowStepSpec& s : spec.steps) {
    if (f.deadline && (!s.job.deadline || *s.job.deadline > *f.deadline)) {
      s.job.deadline = f.deadline;  // compensations are not capped: they must run
    }
    f.steps.push_back(FlowStepRecord{.name = std::move(s.name),
                                     .after = std::move(s.after),
                                     .queue = s.job.queue,
                                     .job = std::nullopt,
                                     .spec = std::move(s.job),
                                     .compensable = s.compensate.has_value(),
                                     .compensate = std::move(s.compensate),
                                     .compensation_job = std::nullopt});
  }
  f.status.steps.resize(f.steps.size());
  f.graph = flow_graph(f.shape());
  return f;
}

void start_flow(FlowRecord& f, FlowHost& host, Millis now) {
  std::string names;
  for (const FlowStepRecord& s : f.steps) names += (names.empty() ? "" : ",") + quoted(s.name);
  host.flow_event(f, now, "started", json_member("name", f.name) + ",\"steps\":[" + names + "]");
  drive_flow(f, host, now);
}

bool advance_flow(FlowRecord& f, const JobRecord& job, JobState to, FlowHost& host, Millis now) {
  if (is_terminal(f.status.state) || !job.flow) return false;
  const auto i = f.step_index(job.flow->step);
  if (!i) return false;
  const std::string& step = f.steps[*i].name;
  if (job.flow->compensating) {
    if (f.steps[*i].compensation_job != job.id ||
        f.status.steps[*i].compensation != CompensationPhase::kActive) {
      return false;
    }
    record_compensation_end(f.status, *i, to);
    host.flow_event(f, now,
                    to == JobState::kSucceeded ? "compensation_succeeded" : "compensation_failed",
                    step_job_fields(step, job.id));
  } else {
    if (f.steps[*i].job != job.id || f.status.steps[*i].phase != StepPhase::kActive) return false;
    record_step_end(f.status, *i, to);
    if (to == JobState::kSucceeded) {
      host.flow_event(f, now, "step_succeeded", step_job_fields(step, job.id));
    } else {
      std::string fields =
          step_job_fields(step, job.id) + "," + json_member("state", to_string(to));
      if (job.error) fields += "," + error_member(*job.error);
      host.flow_event(f, now, "step_failed", fields);
    }
  }
  drive_flow(f, host, now);
  return true;
}

void request_flow_cancel(FlowRecord& f, FlowHost& host, Millis now) {
  if (!f.status.cancel_requested) {
    f.status.cancel_requested = true;
    host.flow_event(f, now, "cancel_requested");
  }
  drive_flow(f, host, now);
}

Status flow_not_found(const JobId& id) { return not_found("no flow " + id.to_string()); }

Status check_flow_replay(const FlowRecord& existing, std::uint64_t content_hash) {
  if (existing.content_hash == content_hash) return Status::ok();
  return conflict("idempotency key '" + existing.idempotency_key +
                  "' is already used by a flow with other steps");
}

Status check_flow_cancel(const FlowRecord& f) {
  if (!is_terminal(f.status.state)) return Status::ok();
  return conflict("flow " + f.id.to_string() + " is already " +
                  std::string(to_string(f.status.state)) + "; it cannot be cancelled");
}

FlowView flow_view(const FlowRecord& f, const FlowJobLookup& job) {
  FlowView v;
  v.id = f.id;
  v.name = f.name;
  v.state = f.status.state;
  v.created_at = f.created_at;
  v.finished_at = f.finished_at;
  v.deadline = f.deadline;
  v.idempotency_key = f.idempotency_key;
  v.error = f.error;
  for (std::size_t i = 0; i < f.steps.size(); ++i) {
    const FlowStepRecord& s = f.steps[i];
    const StepStatus& st = f.status.steps[i];
    FlowStepView sv;
    sv.name = s.name;
    sv.queue = s.queue;
    sv.after = s.after;
    sv.job = s.job;
    sv.compensable = s.compensable;
    sv.compensation_job = s.compensation_job;
    sv.state = step_state_name(st.phase);
    // A job still in the store says more (running, scheduled...) than the phase.
    if (const JobRecord* r = s.job ? job(*s.job) : nullptr) {
      sv.state = std::string(to_string(r->state));
      if (r->state != JobState::kSucceeded) sv.error = r->error;
    }
    sv.compensation_state = compensation_state_name(st.compensation);
    if (const JobRecord* r = s.compensation_job ? job(*s.compensation_job) : nullptr) {
      sv.compensation_state = std::string(to_string(r->state));
    }
    v.steps.push_back(std::move(sv));
  }
  return v;
}

void add_flow_results(FlowView& v, const ResultReader& result_of) {
  std::vector<bool> waited_for(v.steps.size());
  for (const FlowStepView& s : v.steps) {
    for (const auto& a : s.after) {
      for (std::size_t j = 0; j < v.steps.size(); ++j) {
        if (v.steps[j].name == a) waited_for[j] = true;
      }
    }
  }
  std::string result = "{";
  for (std::size_t i = 0; i < v.steps.size(); ++i) {
    FlowStepView& s = v.steps[i];
    if (s.state != "succeeded" || !s.job) continue;
    s.result_json = result_of(*s.job);
    if (s.result_json.empty()) s.result_json = "null";
    if (!waited_for[i]) {
      result += (result.size() > 1 ? "," : "") + quoted(s.name) + ":" + s.result_json;
    }
  }
  if (v.state == FlowState::kSucceeded) v.result_json = result + "}";
}

std::optional<FlowInputs> flow_inputs_of(const FlowRecord* f, const JobRecord& job) {
  if (!job.flow) return std::nullopt;
  FlowInputs p;
  p.flow = LeasedFlow{job.flow->id, job.flow->step, job.flow->compensating, "{}"};
  const auto i = f ? f->step_index(job.flow->step) : std::nullopt;
  if (!i) return p;
  if (job.flow->compensating) {
    if (f->steps[*i].job) p.from.emplace_back(f->steps[*i].name, *f->steps[*i].job);
    return p;
  }
  for (const std::string& a : f->steps[*i].after) {
    const auto j = f->step_index(a);
    if (j && f->steps[*j].job) p.from.emplace_back(a, *f->steps[*j].job);
  }
  return p;
}

void read_flow_inputs(FlowInputs& p, const ResultReader& result_of) {
  std::string inputs = "{";
  for (const auto& [step, job] : p.from) {
    std::string result = result_of(job);
    if (result.empty()) result = "null";
    inputs += (inputs.size() > 1 ? "," : "") + quoted(step) + ":" + result;
  }
  p.flow.inputs_json = inputs + "}";
}

}  // namespace errand
