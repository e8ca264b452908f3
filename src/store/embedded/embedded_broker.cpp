#include "store/embedded/embedded_broker.hpp"

#include <algorithm>
#include <cstdio>

#include "core/fingerprint.hpp"
#include "logging/log.hpp"
#include "store/embedded/broker_impl.hpp"
#include "store/embedded/insert_hints.hpp"

namespace errand::embedded {
namespace detail {

Status EmbeddedBroker::recover() {
  std::lock_guard lock(mutex_);
  return load_from_store();
}

Status EmbeddedBroker::load_from_store() {
  index_ = JobIndex(options_.retention_ms);
  flows_ = FlowBook(options_.retention_ms);
  {
    auto it = db_->scan(kQueues);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      QueueState& q = index_.queue(it->key().ToString());
      if (!decode_queue(it->value().ToStringView(), q)) {
        return {Code::kInternal, "unreadable queue record " + it->key().ToString()};
      }
    }
    if (!it->status().ok()) return unavailable(it->status().ToString());
  }
  {
    auto it = db_->scan(kJobs);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto rec = decode_job(it->value().ToStringView());
      if (!rec)
        return {Code::kInternal, "unreadable job record; was it written by a newer errand?"};
      index_.load(*rec);
    }
    if (!it->status().ok()) return unavailable(it->status().ToString());
  }
  return recover_flows();
}

void EmbeddedBroker::commit(Change change, std::function<void(const Status&)> then) {
  const Millis now = now_millis();
  auto grants = std::make_shared<std::vector<Grant>>();
  for (;;) {
    advance_flows(change, now);  // in the same write: a crash never splits them
    // After the flows: the steps they start are ready jobs too.
    const std::size_t before = change.state_changes().size();
    for (auto& g : hand_off(change, now)) grants->push_back(std::move(g));
    // A hand-off may have expired a job past its deadline, which moves its
    // flow (advance_flows passes over what it has seen already).
    if (change.state_changes().size() == before) break;
  }
  wake_timers_if_earlier();
  auto shared = std::make_shared<Change>(std::move(change));
  committer_.append([&](rocksdb::WriteBatch& wb) { shared->fill(wb, db_->handles()); },
                    [this, shared, grants, then = std::move(then)](const Status& s) {
                      const Status written = s.is_ok() ? s : on_write_failed(s);
                      if (written.is_ok()) shared->publish(waiters_, change_feed_, ended_);
                      // Workers first: their jobs are what callers wait for.
                      for (auto& g : *grants) deliver(g, written);
                      then(written);
                    },
                    shared->take_last_puts(db_->handles()));
}

Result<JobRecord*> EmbeddedBroker::leased_job(const JobId& id, const std::string& token) {
  if (Status no = write_refused(); !no.is_ok()) return no;
  JobRecord* r = index_.find(id);
  if (!r) return job_not_found(id);
  if (r->state != JobState::kRunning || r->lease_token != token) return lease_lost(id);
  return r;
}

std::string EmbeddedBroker::new_lease_token() { return lease_token(rng_); }

void EmbeddedBroker::submit(std::vector<SubmitSpec> specs,
                            Callback<std::vector<SubmitOutcome>> done) {
  std::unique_lock lock(mutex_);
  if (Status no = write_refused(); !no.is_ok()) return lock.unlock(), done(no);
  const Millis now = now_millis();
  // Check every idempotency key first: the batch is all or nothing. A key
  // repeated inside the batch must carry the same payload too.
  std::vector<JobRecord*> existing(specs.size(), nullptr);
  std::map<std::pair<std::string_view, std::string_view>, std::uint64_t> batch_keys;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const SubmitSpec& s = specs[i];
    if (s.idempotency_key.empty()) continue;
    const std::uint64_t hash = fingerprint(s.payload_json);
    JobRecord* r = index_.find_by_key(s.queue, s.idempotency_key);
    auto [seen, fresh] = batch_keys.try_emplace({s.queue, s.idempotency_key}, hash);
    if ((r && r->payload_hash != hash) || (!fresh && seen->second != hash)) {
      lock.unlock();
      std::string where = specs.size() > 1 ? " (job " + std::to_string(i) + ")" : "";
      return done(conflict("idempotency key '" + s.idempotency_key +
                           "' is already used with a different payload" + where));
    }
    existing[i] = r;
  }
  if (Status full = admit(specs, existing); !full.is_ok()) {
    lock.unlock();
    return done(full);
  }
  Change c;
  std::vector<SubmitOutcome> out(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    SubmitSpec& s = specs[i];
    if (!existing[i] && !s.idempotency_key.empty()) {
      existing[i] = index_.find_by_key(s.queue, s.idempotency_key);  // made earlier in this batch
    }
    if (existing[i]) {
      out[i].job.record = *existing[i];
      out[i].job.payload_json = std::move(s.payload_json);
      out[i].replayed = true;
      continue;
    }
    std::string payload = s.payload_json;
    out[i].job.record = create_job(std::move(s), now, c);
    out[i].job.payload_json = std::move(payload);
  }
  // Once per queue, not per job: a batch of 1000 writes its totals once.
  std::string_view last_queue;
  for (const auto& o : out) {
    if (o.replayed || o.job.record.queue == last_queue) continue;
    last_queue = o.job.record.queue;
    c.put_queue(index_.queue(last_queue));
  }
  for (auto& o : out) explain(o.job, now);
  commit(std::move(c),
         [this, out = std::move(out), done = std::move(done)](const Status& s) mutable {
           if (!s.is_ok()) return done(s);
           for (auto& o : out) {
             if (o.replayed && is_terminal(o.job.record.state)) {
               o.job.result_json = read_value(kResults, o.job.record.id);
             }
           }
           done(std::move(out));
         });
}

JobRecord& EmbeddedBroker::create_job(SubmitSpec&& s, Millis now, Change& c) {
  JobRecord r = new_job(s, ids_.next(now), now, c);
  r.payload_hash = fingerprint(s.payload_json);
  ++index_.queue(r.queue).enqueued_total;
  c.put(kPayloads, std::string(r.id.raw()), std::move(s.payload_json));
  c.put_job(r);
  return index_.insert(std::move(r));
}

std::vector<JobView> EmbeddedBroker::take_ready(const LeaseSpec& spec, Millis now, Change& c) {
  std::vector<JobView> leased;
  for (const auto& name : spec.queues) {
    QueueState* q = index_.find_queue(name);
    if (!q || q->paused) continue;
    while (static_cast<int>(leased.size()) < spec.max) {
      JobRecord* r = index_.first_ready(*q);
      if (!r) break;
      if (r->deadline && *r->deadline <= now) {
        expire(*r, now, c);  // its timer has not run yet; never deliver it late
        continue;
      }
      const std::int64_t lease_ms = spec.lease_ms.value_or(r->lease_ms);
      // first_ready() returns queued jobs only.
      index_.update(*r, [&](JobRecord& j) {
        lease_job(j, spec.worker, new_lease_token(), lease_ms, now, c);
      });
      c.put_job(*r);
      leased.push_back(JobView{*r, {}, {}});
    }
    // Wake-ups are handed out one per ready job; a lease that stopped at
    // `max` passes the wake-up on so the jobs it left are not stranded.
    if (!q->ready.empty()) c.ready(q->name);
    if (static_cast<int>(leased.size()) >= spec.max) break;
  }
  return leased;
}

EmbeddedBroker::Grant EmbeddedBroker::make_grant(std::vector<JobView> jobs,
                                                 Callback<std::vector<JobView>> done) {
  // The steps of a flow get the results of the steps they came after.
  Grant g{std::move(jobs), {}, std::move(done)};
  for (const auto& j : g.jobs) g.inputs.push_back(flow_inputs_of(j.record));
  return g;
}

void EmbeddedBroker::deliver(Grant& g, const Status& written) {
  if (!written.is_ok()) return g.done(written);
  // Read after the commit: the submit that wrote a payload may have been in
  // this very group.
  std::vector<std::size_t> unread;
  std::vector<std::string_view> keys;
  for (std::size_t i = 0; i < g.jobs.size(); ++i) {
    if (!g.jobs[i].payload_json.empty()) continue;
    unread.push_back(i);
    keys.push_back(g.jobs[i].record.id.raw());
  }
  std::vector<std::string> payloads;
  db_->get_all(kPayloads, keys, payloads);
  for (std::size_t k = 0; k < unread.size(); ++k) {
    g.jobs[unread[k]].payload_json = std::move(payloads[k]);
  }
  for (std::size_t i = 0; i < g.jobs.size(); ++i) {
    if (g.inputs[i]) {
      read_flow_inputs(*g.inputs[i]);
      g.jobs[i].flow = std::move(g.inputs[i]->flow);
    }
  }
  g.done(std::move(g.jobs));
}

std::vector<EmbeddedBroker::Grant> EmbeddedBroker::hand_off(Change& c, Millis now) {
  std::vector<Grant> grants;
  if (parked_.empty() || !c.made_any_ready()) return grants;
  for (auto it = parked_.begin(); it != parked_.end();) {
    const auto& queues = it->spec.queues;
    if (std::none_of(queues.begin(), queues.end(), [&](auto& q) { return c.made_ready(q); })) {
      ++it;
      continue;
    }
    std::vector<JobView> leased = take_ready(it->spec, now, c);
    if (leased.empty()) {
      ++it;
      continue;
    }
    // A job submitted by this very change has its payload here: no read of
    // the store on the commit thread, whose time every waiting request shares.
    for (auto& j : leased) j.payload_json = c.value_of(kPayloads, std::string(j.record.id.raw()));
    grants.push_back(make_grant(std::move(leased), std::move(it->done)));
    it = parked_.erase(it);
  }
  return grants;
}

void EmbeddedBroker::lease(LeaseSpec spec, Callback<std::vector<JobView>> done) {
  lease_or_wait(std::move(spec), std::move(done), false);
}

std::uint64_t EmbeddedBroker::lease_or_park(LeaseSpec spec, Callback<std::vector<JobView>> done) {
  return lease_or_wait(std::move(spec), std::move(done), true);
}

std::uint64_t EmbeddedBroker::lease_or_wait(LeaseSpec spec, Callback<std::vector<JobView>> done,
                                            bool park) {
  std::unique_lock lock(mutex_);
  if (Status no = write_refused(); !no.is_ok()) return lock.unlock(), done(no), 0;
  const Millis now = now_millis();
  activity_.asked(spec.queues, now);
  Change c;
  std::vector<JobView> leased = take_ready(spec, now, c);
  if (leased.empty() && park) {
    // Jobs found past their deadline on the way were expired: write that.
    if (!c.empty()) commit(std::move(c), [](const Status&) {});
    const std::uint64_t ticket = next_ticket_++;
    parked_.push_back(ParkedLease{ticket, std::move(spec), std::move(done)});
    return ticket;
  }
  if (c.empty()) {  // nothing leased, nothing expired: nothing to write
    lock.unlock();
    done(std::move(leased));
    return 0;
  }
  auto grant = std::make_shared<Grant>(make_grant(std::move(leased), std::move(done)));
  commit(std::move(c), [this, grant](const Status& s) { deliver(*grant, s); });
  return 0;
}

bool EmbeddedBroker::unpark(std::uint64_t ticket) {
  Callback<std::vector<JobView>> dropped;  // destroyed outside the lock
  std::lock_guard lock(mutex_);
  const auto it = std::find_if(parked_.begin(), parked_.end(),
                               [ticket](const ParkedLease& p) { return p.ticket == ticket; });
  if (it == parked_.end()) return false;
  dropped = std::move(it->done);
  parked_.erase(it);
  return true;
}

QueueState& EmbeddedBroker::ack_leased(JobRecord& r, std::string result_json, Millis now,
                                       Change& c) {
  index_.update(r, [&](JobRecord& j) { ack_job(j, now, c); });
  QueueState& q = index_.queue(r.queue);
  ++q.succeeded_total;
  if (waiters_.has_waiters(job_topic(r.id))) {
    // Its waiters answer with the record and result this ack leaves, not
    // with three reads of the store (engine/ended_jobs.hpp).
    c.ended(r.id, ended_.put(JobView{r, {}, result_json, {}, {}}));
  }
  c.put(kResults, std::string(r.id.raw()), std::move(result_json));
  c.put_job(r);
  return q;
}

void EmbeddedBroker::ack(AckSpec spec, Callback<JobState> done) {
  std::unique_lock lock(mutex_);
  auto leased = leased_job(spec.id, spec.lease);
  if (!leased) return lock.unlock(), done(leased.status());
  Change c;
  c.put_queue(ack_leased(**leased, std::move(spec.result_json), now_millis(), c));
  commit(std::move(c), [done = std::move(done)](const Status& s) {
    if (!s.is_ok()) return done(s);
    done(JobState::kSucceeded);
  });
}

void EmbeddedBroker::ack_all(std::vector<AckSpec> specs, Callback<std::vector<Status>> done) {
  std::unique_lock lock(mutex_);
  const Millis now = now_millis();
  std::vector<Status> outcomes(specs.size());
  std::vector<const QueueState*> queues;  // each written once, with its last totals
  Change c;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    auto leased = leased_job(specs[i].id, specs[i].lease);
    if (!leased) {
      outcomes[i] = leased.status();
      continue;
    }
    const QueueState& q = ack_leased(**leased, std::move(specs[i].result_json), now, c);
    if (std::find(queues.begin(), queues.end(), &q) == queues.end()) queues.push_back(&q);
  }
  if (queues.empty()) return lock.unlock(), done(std::move(outcomes));  // nothing to write
  for (const QueueState* q : queues) c.put_queue(*q);
  commit(std::move(c),
         [outcomes = std::move(outcomes), done = std::move(done)](const Status& s) mutable {
           if (!s.is_ok()) return done(s);
           done(std::move(outcomes));
         });
}

FailOutcome EmbeddedBroker::fail_attempt(JobRecord& r, JobError error, bool retry,
                                         std::optional<std::int64_t> retry_in_ms, Millis now,
                                         Change& c) {
  FailOutcome out{};
  index_.update(r, [&](JobRecord& j) {
    out = errand::fail_attempt(j, std::move(error), retry, retry_in_ms, unit_random(), now, c);
  });
  if (out.state == JobState::kFailed) {
    QueueState& q = index_.queue(r.queue);
    ++q.failed_total;
    c.put_queue(q);
  }
  c.put_job(r);
  return out;
}

void EmbeddedBroker::fail(FailSpec spec, Callback<FailOutcome> done) {
  std::unique_lock lock(mutex_);
  const Millis now = now_millis();
  auto leased = leased_job(spec.id, spec.lease);
  if (!leased) return lock.unlock(), done(leased.status());
  JobRecord* r = *leased;
  Change c;
  FailOutcome out = fail_attempt(*r, std::move(spec.error), spec.retry, spec.retry_in_ms, now, c);
  commit(std::move(c), [out, done = std::move(done)](const Status& s) {
    if (!s.is_ok()) return done(s);
    done(out);
  });
}

void EmbeddedBroker::heartbeat(HeartbeatSpec spec, Callback<HeartbeatOutcome> done) {
  std::unique_lock lock(mutex_);
  const Millis now = now_millis();
  auto leased = leased_job(spec.id, spec.lease);
  if (!leased) return lock.unlock(), done(leased.status());
  JobRecord* r = *leased;
  Change c;
  HeartbeatOutcome out{};
  index_.update(
      *r, [&](JobRecord& j) { out = heartbeat_job(j, spec.lease_ms, spec.progress_json, now, c); });
  c.put_job(*r);
  commit(std::move(c), [out, done = std::move(done)](const Status& s) {
    if (!s.is_ok()) return done(s);
    done(out);
  });
}

void EmbeddedBroker::cancel(JobId id, Callback<JobView> done) {
  std::unique_lock lock(mutex_);
  if (Status no = write_refused(); !no.is_ok()) return lock.unlock(), done(no);
  const Millis now = now_millis();
  JobRecord* r = index_.find(id);
  if (!r) return lock.unlock(), done(job_not_found(id));
  // Made before unlocking: that packs `r` away.
  if (Status refused = check_cancel(*r); !refused.is_ok()) {
    lock.unlock();
    return done(std::move(refused));
  }
  Change c;
  index_.update(*r, [&](JobRecord& j) { cancel_job(j, now, c); });
  c.put_job(*r);
  commit(std::move(c), [this, id, done = std::move(done)](const Status& s) {
    if (!s.is_ok()) return done(s);
    done(read_explained(id));
  });
}

void EmbeddedBroker::retry(JobId id, Callback<JobView> done) {
  std::unique_lock lock(mutex_);
  if (Status no = write_refused(); !no.is_ok()) return lock.unlock(), done(no);
  const Millis now = now_millis();
  JobRecord* r = index_.find(id);
  if (!r) return lock.unlock(), done(job_not_found(id));
  // Made before unlocking: that packs `r` away.
  if (Status refused = check_retry(*r); !refused.is_ok()) {
    lock.unlock();
    return done(std::move(refused));
  }
  Change c;
  index_.update(*r, [&](JobRecord& j) { retry_job(j, now, c); });
  c.put_job(*r);
  commit(std::move(c), [this, id, done = std::move(done)](const Status& s) {
    if (!s.is_ok()) return done(s);
    done(read_explained(id));
  });
}

void EmbeddedBroker::discard(JobId id, Callback<Empty> done) {
  std::unique_lock lock(mutex_);
  if (Status no = write_refused(); !no.is_ok()) return lock.unlock(), done(no);
  JobRecord* r = index_.find(id);
  if (!r) return lock.unlock(), done(job_not_found(id));
  // Made before unlocking: that packs `r` away.
  if (Status refused = check_discard(*r); !refused.is_ok()) {
    lock.unlock();
    return done(std::move(refused));
  }
  Change c;
  c.removed(*r, now_millis());
  c.purge(id);
  index_.erase(id);
  commit(std::move(c), [done = std::move(done)](const Status& s) {
    if (!s.is_ok()) return done(s);
    done(Empty{});
  });
}

void EmbeddedBroker::set_paused(std::string name, bool paused, Callback<QueueStats> done) {
  std::unique_lock lock(mutex_);
  if (Status no = write_refused(); !no.is_ok()) return lock.unlock(), done(no);
  QueueState& q = index_.queue(name);
  q.paused = paused;
  Change c;
  c.put_queue(q);
  if (!paused && !q.ready.empty()) c.ready(q.name, q.ready.size());
  QueueStats stats = stats_of(q, now_millis());
  commit(std::move(c), [stats, done = std::move(done)](const Status& s) {
    if (!s.is_ok()) return done(s);
    done(stats);
  });
}

void EmbeddedBroker::configure_queue(std::string name, QueueSettingsChange change,
                                     Callback<QueueStats> done) {
  std::unique_lock lock(mutex_);
  if (Status no = write_refused(); !no.is_ok()) return lock.unlock(), done(no);
  QueueState& q = index_.queue(name);
  if (change.max_queued) q.max_queued = std::max<std::int64_t>(0, *change.max_queued);
  Change c;
  c.put_queue(q);
  QueueStats stats = stats_of(q, now_millis());
  commit(std::move(c), [stats, done = std::move(done)](const Status& s) {
    if (!s.is_ok()) return done(s);
    done(stats);
  });
}

Status EmbeddedBroker::admit(const std::vector<SubmitSpec>& specs,
                             const std::vector<JobRecord*>& existing) {
  // New jobs per queue; a key repeated inside the batch counts once at most
  // too often, which only makes the check stricter.
  std::map<std::string_view, std::int64_t> adding;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (!existing[i]) ++adding[specs[i].queue];
  }
  for (const auto& [name, n] : adding) {
    const QueueState* q = index_.find_queue(name);
    if (!q || q->max_queued <= 0) continue;
    const std::int64_t waiting = q->counts[static_cast<int>(JobState::kQueued)] +
                                 q->counts[static_cast<int>(JobState::kScheduled)];
    if (waiting + n > q->max_queued) {
      return resource_exhausted("queue '" + std::string(name) +
                                "' is full: " + std::to_string(waiting) +
                                " jobs wait, max_queued is " + std::to_string(q->max_queued));
    }
  }
  return Status::ok();
}

std::string EmbeddedBroker::read_value(Cf cf, const JobId& id) {
  std::string value;
  if (!db_->get(cf, id.raw(), &value).ok()) return {};
  return value;
}

Result<JobView> EmbeddedBroker::read_job(const JobId& id) {
  std::string meta;
  const rocksdb::Status s = db_->get(kJobs, id.raw(), &meta);
  if (s.IsNotFound()) return job_not_found(id);
  if (!s.ok()) return unavailable("store read failed: " + s.ToString());
  auto rec = decode_job(meta);
  if (!rec) return Status(Code::kInternal, "unreadable record of job " + id.to_string());
  JobView v{std::move(*rec), read_value(kPayloads, id), {}};
  if (v.record.state == JobState::kSucceeded) v.result_json = read_value(kResults, id);
  return v;
}

bool EmbeddedBroker::known_unfinished(const JobId& id) {
  std::lock_guard lock(mutex_);
  const auto it = index_.records().find(id);
  if (it == index_.records().end()) return false;
  // Memory may be a commit ahead of the store. A job it shows terminal may
  // not be so on disk yet: the waiter reads, and waits on. One it shows
  // queued again (an operator's retry) may still be failed on disk: the
  // waiter waits for the new attempt, as it would had it come a moment later.
  const auto head = peek_job_fields(it->second.fields());
  return head && !is_terminal(head->state);
}

Result<JobView> EmbeddedBroker::read_explained(const JobId& id) {
  auto v = read_job(id);
  if (!v) return v;
  std::lock_guard lock(mutex_);
  explain(v.value(), now_millis());
  return v;
}

void EmbeddedBroker::explain(JobView& v, Millis now) {
  const JobRecord& r = v.record;
  if (is_terminal(r.state)) {
    v.waiting_on.reset();
    return;
  }
  // The record is the committed one, which may trail memory by a commit; it
  // is explained against its queue as it is now.
  QueueFacts facts;
  facts.no_worker_after_ms = options_.no_worker_after_ms;
  if (const QueueState* q = index_.find_queue(r.queue)) {
    facts.paused = q->paused;
    facts.ahead = index_.ready_ahead(*q, r);
    facts.running = q->counts[static_cast<int>(JobState::kRunning)];
  }
  activity_.describe(r.queue, facts);
  v.waiting_on = explain_wait(r, facts, now);
}

void EmbeddedBroker::timeline(JobId id, std::uint32_t after_seq,
                              Callback<std::vector<TimelineEvent>> done) {
  std::string meta;
  if (db_->get(kJobs, id.raw(), &meta).IsNotFound()) return done(job_not_found(id));
  auto events = read_timeline(id, after_seq);
  const auto rec = decode_job(meta);
  if (!rec) return done(std::move(events));
  // "enqueued", "leased" and "succeeded" are derived (Change::enqueued,
  // ::leased and ::succeeded); a store written before this kept them as
  // events. A derived one is newer than every stored one but "enqueued":
  // one stored at its seq or later means the record was read before it
  // was written (timeline reads are not snapshots).
  const std::uint32_t last = events.empty() ? 0 : events.back().seq;
  if (after_seq == 0 && (events.empty() || events.front().seq != 1) &&
      std::max(rec->timeline_seq, last) <= kTimelineLimit) {
    events.insert(events.begin(), enqueued_event(*rec));
  }
  if (rec->leased_event_unwritten) {
    TimelineEvent leased = leased_event(*rec);
    if (leased.seq > std::max(after_seq, last)) events.push_back(std::move(leased));
  }
  // A succeeded job's last event, unless it was written.
  if (rec->state == JobState::kSucceeded && rec->timeline_seq > std::max(after_seq, last)) {
    events.push_back(succeeded_event(*rec));
  }
  done(std::move(events));
}

std::vector<TimelineEvent> EmbeddedBroker::read_timeline(const JobId& id, std::uint32_t after_seq) {
  std::vector<TimelineEvent> events;
  auto it = db_->scan(kTimeline);
  const std::string prefix(id.raw());
  for (it->Seek(timeline_key(id, after_seq + 1)); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    events.push_back(
        stored_event(timeline_key_seq(it->key().ToStringView()), it->value().ToString()));
  }
  return events;
}

void EmbeddedBroker::list(ListSpec spec, Callback<JobPage> done) {
  std::vector<JobId> ids;
  std::optional<JobId> next;
  {
    std::lock_guard lock(mutex_);
    const auto& records = index_.records();
    auto it = spec.before ? records.lower_bound(*spec.before) : records.end();
    while (it != records.begin()) {
      --it;
      const auto r = peek_job_fields(it->second.fields());
      if (!r) continue;  // cannot happen: JobIndex packed it
      if (spec.queue && r->queue != *spec.queue) continue;
      if (spec.state && r->state != *spec.state) continue;
      if (static_cast<int>(ids.size()) >= spec.limit) {
        if (ids.empty()) break;  // limit 0: an empty page, no cursor
        next = ids.back();
        break;
      }
      ids.push_back(it->first);
    }
  }
  JobPage page;
  page.next = next;
  for (const JobId& id : ids) {
    auto v = read_job(id);
    if (v) page.jobs.push_back(std::move(v.value()));  // a job being written or purged: skip it
  }
  {
    std::lock_guard lock(mutex_);
    const Millis now = now_millis();
    for (auto& v : page.jobs) explain(v, now);
  }
  done(std::move(page));
}

QueueStats EmbeddedBroker::stats_of(const QueueState& q, Millis now) const {
  QueueStats s;
  s.name = q.name;
  s.paused = q.paused;
  if (q.max_queued > 0) s.max_queued = q.max_queued;
  std::copy(std::begin(q.counts), std::end(q.counts), std::begin(s.counts));
  s.oldest_queued_ms = index_.oldest_ready_ms(q, now);
  s.enqueued_total = q.enqueued_total;
  s.succeeded_total = q.succeeded_total;
  s.failed_total = q.failed_total;
  QueueFacts activity;
  activity_.describe(q.name, activity);
  s.last_lease_request_at = activity.last_lease_request_at;
  s.asking_now = activity.asking_now;
  return s;
}

void EmbeddedBroker::queues(Callback<std::vector<QueueStats>> done) {
  std::vector<QueueStats> out;
  {
    std::lock_guard lock(mutex_);
    const Millis now = now_millis();
    for (const auto& [name, q] : index_.queues()) out.push_back(stats_of(q, now));
  }
  done(std::move(out));
}

void EmbeddedBroker::queue(std::string name, Callback<QueueStats> done) {
  std::unique_lock lock(mutex_);
  QueueState* q = index_.find_queue(name);
  if (!q) return lock.unlock(), done(not_found("no queue named '" + name + "'"));
  QueueStats s = stats_of(*q, now_millis());
  lock.unlock();
  done(std::move(s));
}

void EmbeddedBroker::expire(JobRecord& r, Millis now, Change& c) {
  index_.update(r, [&](JobRecord& j) { expire_job(j, now, c); });
  c.put_job(r);
}

std::optional<Millis> EmbeddedBroker::next_timer_at() const {
  const auto job = index_.next_timer_at();
  const auto flow = flows_.next_purge_at();
  if (job && flow) return std::min(*job, *flow);
  return job ? job : flow;
}

void EmbeddedBroker::wake_timers_if_earlier() {
  const auto next = next_timer_at();
  if (next && (!timer_sleep_until_ || *next < *timer_sleep_until_)) timer_wake_.notify_one();
}

void EmbeddedBroker::run_timers() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!write_error_.is_ok()) {
      // No timer fires while the store cannot write: its change would be
      // refused. This thread tries to write again instead.
      timer_wake_.wait_for(lock, std::chrono::milliseconds(options_.write_retry_ms));
      if (!stopping_ && !write_error_.is_ok()) try_to_write_again(lock);
      continue;
    }
    const Millis now = now_millis();
    Change c;
    for (const Timer& t : index_.take_due(now)) {
      JobRecord* r = index_.find(t.id);
      if (!r) continue;
      switch (t.kind) {
        case TimerKind::kActivate:
          if (r->state == JobState::kScheduled) {
            index_.update(*r, [&](JobRecord& j) { activate_job(j, now, c); });
            c.put_job(*r);
            c.touched(r->id);
            continue;
          }
          break;
        case TimerKind::kDeadline:
          if (r->state == JobState::kScheduled || r->state == JobState::kQueued) {
            expire(*r, now, c);
            continue;
          }
          break;
        case TimerKind::kLeaseExpiry:
          if (r->state == JobState::kRunning) {
            fail_attempt(*r, lease_expired_error(*r), true, std::nullopt, now, c);
            continue;
          }
          break;
        case TimerKind::kPurge:
          c.removed(*r, now);
          c.purge(r->id);
          index_.erase(r->id);
          continue;
      }
      index_.update(*r, [](JobRecord&) {});  // nothing changed: re-arm its timers
    }
    for (const JobId& flow : flows_.take_due(now)) c.purge_flow(flow);
    if (!c.empty()) commit(std::move(c), [](const Status&) {});
    timer_sleep_until_ = next_timer_at();
    if (timer_sleep_until_) {
      const auto until =
          std::chrono::system_clock::time_point(std::chrono::milliseconds(*timer_sleep_until_));
      timer_wake_.wait_until(lock, until);
    } else {
      timer_wake_.wait(lock);
    }
  }
}

void EmbeddedBroker::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  timer_wake_.notify_one();
  if (timer_thread_.joinable()) timer_thread_.join();
  committer_.stop();
  std::list<ParkedLease> parked;
  {
    std::lock_guard lock(mutex_);
    parked.swap(parked_);
  }
  for (auto& p : parked) p.done(stopped());
  waiters_.notify_everyone();
  if (options_.durability == Durability::kMemory) {
    // Without a WAL, only flushed memtables survive even a clean restart.
    db_->flush().PermitUncheckedError();
  }
}

}  // namespace detail

using detail::EmbeddedBroker;
using detail::kCfNames;

Result<std::unique_ptr<Broker>> open_embedded_broker(const EmbeddedOptions& options) {
  StoreDbOptions db_options{
      options.data_dir, {std::begin(kCfNames), std::end(kCfNames)}, options.file_system, {}};
  db_options.insert_hints.assign(detail::kCfCount, one_hint());
  db_options.insert_hints[detail::kTimeline] = one_hint_for_events();
  auto db = StoreDb::open(std::move(db_options));
  if (!db) return db.status();
  auto broker = std::make_unique<EmbeddedBroker>(options, std::move(db).value());
  if (Status st = broker->recover(); !st.is_ok()) return st;
  broker->start_timers();
  return std::unique_ptr<Broker>(std::move(broker));
}

}  // namespace errand::embedded
