// The embedded Broker's flows (SPEC §3 Flows). core/flow.hpp decides; this
// file keeps FlowBook in step with the jobs and writes every flow change in
// the same batch as the job change that caused it (commit() calls
// advance_flows()), so after a crash a flow is exactly where its jobs are.
#include <algorithm>

#include "core/fingerprint.hpp"
#include "store/embedded/broker_impl.hpp"

namespace errand::embedded::detail {
namespace {

Status flow_not_found(const JobId& id) { return not_found("no flow " + id.to_string()); }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Step names are [A-Za-z0-9_.-] (validate_flow_shape): quoting needs no escapes.
std::string step_member(std::string_view step) { return "\"step\":" + quoted(step); }

std::string step_job_fields(std::string_view step, const JobId& job) {
  return step_member(step) + "," + json_member("job", job.to_string());
}

// What tells a replay of a flow submit from a conflict: its name, and each
// step's name, queue, payload, after and compensation.
std::uint64_t content_hash(const FlowSpec& spec) {
  std::string text = spec.name;
  for (const FlowStepSpec& s : spec.steps) {
    text += '\0' + s.name + '\0' + s.job.queue + '\0' + s.job.payload_json;
    for (const auto& a : s.after) text += '\1' + a;
    if (s.compensate) text += '\2' + s.compensate->queue + '\0' + s.compensate->payload_json;
  }
  return fingerprint(text);
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

}  // namespace

Status EmbeddedBroker::recover_flows() {
  auto it = db_->scan(kFlows);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto f = decode_flow(it->value().ToStringView());
    if (!f) return {Code::kInternal, "unreadable flow record; was it written by a newer errand?"};
    flows_.insert(std::move(*f));
  }
  return it->status().ok() ? Status::ok() : unavailable(it->status().ToString());
}

void EmbeddedBroker::submit_flow(FlowSpec spec, Callback<FlowSubmitOutcome> done) {
  std::unique_lock lock(mutex_);
  if (Status no = write_refused(); !no.is_ok()) return lock.unlock(), done(no);
  const Millis now = now_millis();
  const std::uint64_t hash = content_hash(spec);
  if (!spec.idempotency_key.empty()) {
    if (FlowEntry* existing = flows_.find_by_key(spec.idempotency_key)) {
      if (existing->content_hash != hash) {
        return lock.unlock(), done(conflict("idempotency key '" + spec.idempotency_key +
                                            "' is already used by a flow with other steps"));
      }
      FlowView v = flow_view(*existing);
      lock.unlock();
      read_flow_results(v);
      return done(FlowSubmitOutcome{std::move(v), true});
    }
  }
  FlowEntry f;
  f.id = ids_.next(now);
  f.name = std::move(spec.name);
  f.created_at = now;
  f.deadline = spec.deadline;
  f.idempotency_key = std::move(spec.idempotency_key);
  f.content_hash = hash;
  f.traceparent = std::move(spec.traceparent);
  std::string names;
  for (FlowStepSpec& s : spec.steps) {
    if (f.deadline && (!s.job.deadline || *s.job.deadline > *f.deadline)) {
      s.job.deadline = f.deadline;  // compensations are not capped: they must run
    }
    names += (names.empty() ? "" : ",") + quoted(s.name);
    f.steps.push_back(FlowStepEntry{.name = std::move(s.name),
                                    .after = std::move(s.after),
                                    .queue = s.job.queue,
                                    .job = std::nullopt,
                                    .spec = std::move(s.job),
                                    .compensable = s.compensate.has_value(),
                                    .compensate = std::move(s.compensate),
                                    .compensation_job = std::nullopt});
  }
  f.status.steps.resize(f.steps.size());
  FlowEntry& e = flows_.insert(std::move(f));
  Change c;
  c.flow_event(e, now, "started", json_member("name", e.name) + ",\"steps\":[" + names + "]");
  drive_flow(e, c, now);
  FlowView v = flow_view(e);
  commit(std::move(c), [v = std::move(v), done = std::move(done)](const Status& s) mutable {
    if (!s.is_ok()) return done(s);
    done(FlowSubmitOutcome{std::move(v), false});
  });
}

void EmbeddedBroker::get_flow(JobId id, Callback<FlowView> done) {
  std::unique_lock lock(mutex_);
  FlowEntry* f = flows_.find(id);
  if (!f) return lock.unlock(), done(flow_not_found(id));
  FlowView v = flow_view(*f);
  lock.unlock();
  read_flow_results(v);
  done(std::move(v));
}

void EmbeddedBroker::cancel_flow(JobId id, Callback<FlowView> done) {
  std::unique_lock lock(mutex_);
  if (Status no = write_refused(); !no.is_ok()) return lock.unlock(), done(no);
  const Millis now = now_millis();
  FlowEntry* f = flows_.find(id);
  if (!f) return lock.unlock(), done(flow_not_found(id));
  if (is_terminal(f->status.state)) {
    Status refused = conflict("flow " + id.to_string() + " is already " +
                              std::string(to_string(f->status.state)) + "; it cannot be cancelled");
    lock.unlock();
    return done(std::move(refused));
  }
  Change c;
  if (!f->status.cancel_requested) {
    f->status.cancel_requested = true;
    c.flow_event(*f, now, "cancel_requested");
  }
  drive_flow(*f, c, now);
  commit(std::move(c), [this, id, done = std::move(done)](const Status& s) {
    if (!s.is_ok()) return done(s);
    get_flow(id, done);
  });
}

void EmbeddedBroker::list_flows(FlowListSpec spec, Callback<FlowPage> done) {
  std::unique_lock lock(mutex_);
  FlowPage page;
  flows_.newest_first(spec.before, [&](const FlowEntry& f) {
    if (spec.state && f.status.state != *spec.state) return true;
    if (static_cast<int>(page.flows.size()) == spec.limit) {
      page.next = page.flows.back().id;
      return false;
    }
    page.flows.push_back(flow_view(f));
    return true;
  });
  lock.unlock();
  for (FlowView& v : page.flows) read_flow_results(v);
  done(std::move(page));
}

void EmbeddedBroker::flow_timeline(JobId id, std::uint32_t after_seq,
                                   Callback<std::vector<TimelineEvent>> done) {
  std::string record;
  if (db_->get(kFlows, id.raw(), &record).IsNotFound()) {
    return done(flow_not_found(id));
  }
  done(read_timeline(id, after_seq));
}

void EmbeddedBroker::advance_flows(Change& c, Millis now) {
  // drive_flow() may add changes (a cancelled step job): they are read too.
  for (std::size_t k = 0; k < c.state_changes().size(); ++k) {
    const StateChange ch = c.state_changes()[k];
    if (!ch.from || !ch.to || is_terminal(*ch.from) || !is_terminal(*ch.to)) continue;
    const JobRecord* r = index_.find(ch.id);
    if (!r || !r->flow) continue;
    FlowEntry* f = flows_.find(r->flow->id);
    if (!f || is_terminal(f->status.state)) continue;
    const auto i = f->step_index(r->flow->step);
    if (!i) continue;
    const std::string& step = f->steps[*i].name;
    if (r->flow->compensating) {
      if (f->steps[*i].compensation_job != r->id ||
          f->status.steps[*i].compensation != CompensationPhase::kActive) {
        continue;
      }
      record_compensation_end(f->status, *i, *ch.to);
      c.flow_event(
          *f, now,
          *ch.to == JobState::kSucceeded ? "compensation_succeeded" : "compensation_failed",
          step_job_fields(step, r->id));
    } else {
      if (f->steps[*i].job != r->id || f->status.steps[*i].phase != StepPhase::kActive) continue;
      record_step_end(f->status, *i, *ch.to);
      if (*ch.to == JobState::kSucceeded) {
        c.flow_event(*f, now, "step_succeeded", step_job_fields(step, r->id));
      } else {
        std::string fields =
            step_job_fields(step, r->id) + "," + json_member("state", to_string(*ch.to));
        if (r->error) fields += "," + error_member(*r->error);
        c.flow_event(*f, now, "step_failed", fields);
      }
    }
    drive_flow(*f, c, now);
  }
}

void EmbeddedBroker::drive_flow(FlowEntry& f, Change& c, Millis now) {
  // Each round settles something for good, so a flow of n steps settles in
  // a few rounds; the bound only guards against a planner bug.
  for (std::size_t round = 0; round < 3 * f.steps.size() + 4; ++round) {
    const FlowActions a = plan(f.graph, f.status);
    if (a.empty()) break;
    if (a.state == FlowState::kCompensating) {
      note_failure(f);
      c.flow_event(
          f, now, "compensating",
          f.status.failed_step ? step_member(f.steps[*f.status.failed_step].name) : std::string());
    }
    for (std::size_t i : a.start) {
      FlowStepEntry& s = f.steps[i];
      SubmitSpec spec = std::move(*s.spec);
      s.spec.reset();
      spec.flow = FlowRef{f.id, s.name, false};
      spec.traceparent = f.traceparent;
      s.job = create_job(std::move(spec), now, c).id;
      c.put_queue(index_.queue(s.queue));  // its enqueued_total
      c.flow_event(f, now, "step_started", step_job_fields(s.name, *s.job));
    }
    for (std::size_t i : a.skip) {
      f.steps[i].spec.reset();
      c.flow_event(f, now, "step_skipped", step_member(f.steps[i].name));
    }
    for (std::size_t i : a.cancel) {
      JobRecord* r = index_.find(*f.steps[i].job);
      if (!r || is_terminal(r->state)) continue;
      c.flow_event(f, now, "step_cancel_requested", step_job_fields(f.steps[i].name, r->id));
      // A queued job ends now: advance_flows() reads that change.
      index_.update(*r, [&](JobRecord& j) { cancel_job(j, now, c); });
      c.put_job(*r);
    }
    if (a.compensate) {
      FlowStepEntry& s = f.steps[*a.compensate];
      SubmitSpec spec = std::move(*s.compensate);
      s.compensate.reset();
      spec.flow = FlowRef{f.id, s.name, true};
      spec.traceparent = f.traceparent;
      const JobRecord& job = create_job(std::move(spec), now, c);
      s.compensation_job = job.id;
      c.put_queue(index_.queue(job.queue));
      c.flow_event(f, now, "compensation_started", step_job_fields(s.name, *s.compensation_job));
    }
    if (a.state) {
      note_failure(f);
      switch (*a.state) {
        case FlowState::kCompensating:  // said above, before what it does
          break;
        case FlowState::kSucceeded:
          c.flow_event(f, now, "succeeded", "\"result\":" + flow_result(f, c));
          break;
        case FlowState::kFailed:
          c.flow_event(f, now, "failed",
                       "\"error\":{" + step_member(f.error->step) + "," +
                           json_member("message", f.error->message) + ",\"type\":" +
                           (f.error->type.empty() ? "null" : quoted(f.error->type)) + "}");
          break;
        case FlowState::kCancelled:
          c.flow_event(f, now, "cancelled");
          break;
        case FlowState::kRunning:
          break;
      }
      if (is_terminal(*a.state)) {
        f.finished_at = now;
        flows_.finished(f);
        for (FlowStepEntry& s : f.steps) s.compensate.reset();  // never needed now
      }
    }
    apply(f.status, a);
  }
  c.put_flow(f);
}

std::string EmbeddedBroker::flow_result(const FlowEntry& f, const Change& c) {
  std::string result = "{";
  for (std::size_t i : sink_steps(f.graph)) {
    const JobId& job = *f.steps[i].job;
    // The last step's result is in this very change, not in the store yet.
    std::string value = c.value_of(kResults, std::string(job.raw()));
    if (value.empty()) value = read_value(kResults, job);
    if (value.empty()) value = "null";
    result += (result.size() > 1 ? "," : "") + quoted(f.steps[i].name) + ":" + value;
  }
  return result + "}";
}

void EmbeddedBroker::note_failure(FlowEntry& f) {
  if (!f.status.failed_step || f.error) return;
  const FlowStepEntry& s = f.steps[*f.status.failed_step];
  const JobRecord* r = s.job ? index_.find(*s.job) : nullptr;
  f.error = FlowError{s.name, "step " + s.name + " did not succeed", ""};
  if (r && r->error) {
    f.error->message = r->error->message;
    f.error->type = r->error->type;
  } else if (r) {  // expired, or cancelled by someone else than the flow
    f.error->message = "the job of step " + s.name + " was " + std::string(to_string(r->state));
    f.error->type = std::string(to_string(r->state));
  }
}

FlowView EmbeddedBroker::flow_view(const FlowEntry& f) {
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
    const FlowStepEntry& s = f.steps[i];
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
    if (const JobRecord* r = s.job ? index_.find(*s.job) : nullptr) {
      sv.state = std::string(to_string(r->state));
      if (r->state != JobState::kSucceeded) sv.error = r->error;
    }
    sv.compensation_state = compensation_state_name(st.compensation);
    if (const JobRecord* r = s.compensation_job ? index_.find(*s.compensation_job) : nullptr) {
      sv.compensation_state = std::string(to_string(r->state));
    }
    v.steps.push_back(std::move(sv));
  }
  return v;
}

void EmbeddedBroker::read_flow_results(FlowView& v) {
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
    s.result_json = read_value(kResults, *s.job);
    if (s.result_json.empty()) s.result_json = "null";
    if (!waited_for[i]) {
      result += (result.size() > 1 ? "," : "") + quoted(s.name) + ":" + s.result_json;
    }
  }
  if (v.state == FlowState::kSucceeded) v.result_json = result + "}";
}

std::optional<EmbeddedBroker::PendingInputs> EmbeddedBroker::flow_inputs_of(const JobRecord& r) {
  if (!r.flow) return std::nullopt;
  PendingInputs p;
  p.flow = LeasedFlow{r.flow->id, r.flow->step, r.flow->compensating, "{}"};
  const FlowEntry* f = flows_.find(r.flow->id);
  const auto i = f ? f->step_index(r.flow->step) : std::nullopt;
  if (!i) return p;
  if (r.flow->compensating) {
    if (f->steps[*i].job) p.from.emplace_back(f->steps[*i].name, *f->steps[*i].job);
    return p;
  }
  for (const std::string& a : f->steps[*i].after) {
    const auto j = f->step_index(a);
    if (j && f->steps[*j].job) p.from.emplace_back(a, *f->steps[*j].job);
  }
  return p;
}

void EmbeddedBroker::read_flow_inputs(PendingInputs& p) {
  std::string inputs = "{";
  for (const auto& [step, job] : p.from) {
    std::string result = read_value(kResults, job);
    if (result.empty()) result = "null";
    inputs += (inputs.size() > 1 ? "," : "") + quoted(step) + ":" + result;
  }
  p.flow.inputs_json = inputs + "}";
}

}  // namespace errand::embedded::detail
