// The embedded Broker's flows (SPEC §3 Flows). engine/flow_driver.hpp holds
// the rules; this file keeps FlowBook in step with the jobs and writes every
// flow change in the same batch as the job change that caused it (commit()
// calls advance_flows()), so after a crash a flow is exactly where its jobs are.
#include <algorithm>

#include "store/embedded/broker_impl.hpp"

namespace errand::embedded::detail {

// The flow rules' view of one Change. REQUIRES: mutex_ held while it lives.
class EmbeddedBroker::FlowChange final : public FlowHost {
 public:
  FlowChange(EmbeddedBroker& broker, Change& c) : b_(broker), c_(c) {}

  JobId create_job(SubmitSpec spec, Millis now) override {
    const std::string queue = spec.queue;
    const JobId id = b_.create_job(std::move(spec), now, c_).id;
    c_.put_queue(b_.index_.queue(queue));  // its enqueued_total
    return id;
  }
  std::optional<JobRecord> find_job(const JobId& id) override {
    const JobRecord* r = b_.index_.find(id);
    return r ? std::optional<JobRecord>(*r) : std::nullopt;
  }
  bool cancel_job(const JobId& id, Millis now) override {
    JobRecord* r = b_.index_.find(id);
    if (!r || is_terminal(r->state)) return false;
    // A queued job ends now: advance_flows() reads that change.
    b_.index_.update(*r, [&](JobRecord& j) { errand::cancel_job(j, now, c_); });
    c_.put_job(*r);
    return true;
  }
  std::string result_of(const JobId& id) override {
    // The last step's result may be in this very change, not in the store yet.
    std::string value = c_.value_of(kResults, std::string(id.raw()));
    return value.empty() ? b_.read_value(kResults, id) : value;
  }
  void flow_event(FlowRecord& f, Millis at, std::string_view type,
                  std::string_view fields) override {
    c_.flow_event(f, at, type, fields);
  }

 private:
  EmbeddedBroker& b_;
  Change& c_;
};

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
  if (!spec.idempotency_key.empty()) {
    if (FlowRecord* existing = flows_.find_by_key(spec.idempotency_key)) {
      if (Status used = check_flow_replay(*existing, flow_content_hash(spec)); !used.is_ok()) {
        return lock.unlock(), done(std::move(used));
      }
      // Answered once the flow is written (its submit may not be yet), as a
      // job's replay is: a failed write fails the replay too.
      return commit(Change{}, [this, id = existing->id, done = std::move(done)](const Status& s) {
        if (!s.is_ok()) return done(s);
        get_flow(id, [done](Result<FlowView> v) {
          if (!v) return done(v.status());
          done(FlowSubmitOutcome{std::move(*v), true});
        });
      });
    }
  }
  FlowRecord& f = flows_.insert(new_flow(std::move(spec), ids_.next(now), now));
  Change c;
  FlowChange host(*this, c);
  start_flow(f, host, now);
  flow_changed(f, false, c);
  FlowView v = flow_view(f);
  commit(std::move(c), [v = std::move(v), done = std::move(done)](const Status& s) mutable {
    if (!s.is_ok()) return done(s);
    done(FlowSubmitOutcome{std::move(v), false});
  });
}

void EmbeddedBroker::get_flow(JobId id, Callback<FlowView> done) {
  answer_when_written([this, id, done = std::move(done)]() -> std::function<void()> {
    std::lock_guard lock(mutex_);
    const FlowRecord* f = flows_.find(id);
    if (!f) return [id, done] { done(flow_not_found(id)); };
    return [this, v = flow_view(*f), done]() mutable {
      read_flow_results(v);
      done(std::move(v));
    };
  });
}

void EmbeddedBroker::cancel_flow(JobId id, Callback<FlowView> done) {
  std::unique_lock lock(mutex_);
  if (Status no = write_refused(); !no.is_ok()) return lock.unlock(), done(no);
  const Millis now = now_millis();
  FlowRecord* f = flows_.find(id);
  if (!f) return lock.unlock(), done(flow_not_found(id));
  if (Status refused = check_flow_cancel(*f); !refused.is_ok()) {
    lock.unlock();
    return done(std::move(refused));
  }
  Change c;
  FlowChange host(*this, c);
  request_flow_cancel(*f, host, now);
  flow_changed(*f, false, c);
  commit(std::move(c), [this, id, done = std::move(done)](const Status& s) {
    if (!s.is_ok()) return done(s);
    get_flow(id, done);
  });
}

void EmbeddedBroker::list_flows(FlowListSpec spec, Callback<FlowPage> done) {
  answer_when_written([this, spec = std::move(spec), done = std::move(done)] {
    std::lock_guard lock(mutex_);
    FlowPage page;
    flows_.newest_first(spec.before, [&](const FlowRecord& f) {
      if (spec.state && f.status.state != *spec.state) return true;
      if (static_cast<int>(page.flows.size()) == spec.limit) {
        page.next = page.flows.back().id;
        return false;
      }
      page.flows.push_back(flow_view(f));
      return true;
    });
    return std::function<void()>([this, page = std::move(page), done]() mutable {
      for (FlowView& v : page.flows) read_flow_results(v);
      done(std::move(page));
    });
  });
}

void EmbeddedBroker::answer_when_written(const std::function<std::function<void()>()>& read) {
  committer_.when_written([read, answer = read()](const Status& written) {
    // The write failed, and memory was reloaded from the store: all it shows
    // now is written.
    if (!written.is_ok()) return read()();
    answer();
  });
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
  FlowChange host(*this, c);
  // Advancing may add changes (a cancelled step job): they are read too.
  for (std::size_t k = 0; k < c.state_changes().size(); ++k) {
    const StateChange ch = c.state_changes()[k];
    if (!ch.from || !ch.to || is_terminal(*ch.from) || !is_terminal(*ch.to)) continue;
    const JobRecord* r = index_.find(ch.id);
    if (!r || !r->flow) continue;
    FlowRecord* f = flows_.find(r->flow->id);
    if (!f) continue;
    const JobRecord job = *r;  // cancelling a step job may move records in the index
    const bool was_finished = f->finished_at.has_value();
    if (advance_flow(*f, job, *ch.to, host, now)) flow_changed(*f, was_finished, c);
  }
}

void EmbeddedBroker::flow_changed(const FlowRecord& f, bool was_finished, Change& c) {
  if (!was_finished && f.finished_at) flows_.finished(f);
  c.put_flow(f);
}

FlowView EmbeddedBroker::flow_view(const FlowRecord& f) {
  return errand::flow_view(f,
                           [this](const JobId& id) -> const JobRecord* { return index_.find(id); });
}

void EmbeddedBroker::read_flow_results(FlowView& v) {
  add_flow_results(v, [this](const JobId& id) { return read_value(kResults, id); });
}

std::optional<FlowInputs> EmbeddedBroker::flow_inputs_of(const JobRecord& r) {
  if (!r.flow) return std::nullopt;
  return errand::flow_inputs_of(flows_.find(r.flow->id), r);
}

void EmbeddedBroker::read_flow_inputs(FlowInputs& p) {
  errand::read_flow_inputs(p, [this](const JobId& id) { return read_value(kResults, id); });
}

}  // namespace errand::embedded::detail
