#include "store/embedded/job_index.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "store/embedded/record_codec.hpp"

namespace errand::embedded {

JobRecord* JobIndex::find(const JobId& id) {
  if (auto w = working_.find(id); w != working_.end()) return &w->second;
  auto it = records_.find(id);
  if (it == records_.end()) return nullptr;
  auto rec = decode_job_fields(id, it->second.fields());
  assert(rec && "a record this index encoded decodes");
  if (!rec) return nullptr;
  return &working_.emplace(id, std::move(*rec)).first->second;
}

JobRecord* JobIndex::find_by_key(std::string_view queue, std::string_view key) {
  auto it = keys_.find(std::pair<std::string, std::string>(queue, key));
  return it == keys_.end() ? nullptr : find(it->second);
}

QueueState& JobIndex::queue(std::string_view name) {
  auto it = queues_.find(name);
  if (it != queues_.end()) return it->second;
  QueueState& q = queues_[std::string(name)];
  q.name = std::string(name);
  return q;
}

QueueState* JobIndex::find_queue(std::string_view name) {
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : &it->second;
}

JobRecord& JobIndex::insert(JobRecord rec) {
  [[maybe_unused]] const bool inserted = records_.try_emplace(rec.id).second;
  assert(inserted && "UUIDv7 ids are unique");
  const JobId id = rec.id;
  JobRecord& r = working_.emplace(id, std::move(rec)).first->second;
  attach(r);
  return r;  // at rest (encoded) on the next settle()
}

void JobIndex::load(const JobRecord& rec) {
  auto [it, inserted] = records_.try_emplace(rec.id);
  assert(inserted && "UUIDv7 ids are unique");
  attach(rec);
  pack(it->second, rec);
}

void JobIndex::erase(JobId id) {  // a copy: `id` may be the erased record's own
  const JobRecord* r = find(id);
  if (!r) return;
  detach(*r);
  working_.erase(id);
  records_.erase(id);
}

void JobIndex::pack(PackedJob& at, const JobRecord& rec) {
  scratch_.clear();
  append_job_fields(rec, scratch_);
  at.assign(scratch_);
}

void JobIndex::settle() {
  for (const auto& [id, rec] : working_) pack(records_.at(id), rec);
  working_.clear();
}

std::vector<Timer> JobIndex::timers_of(const JobRecord& r) const {
  std::vector<Timer> t;
  switch (r.state) {
    case JobState::kScheduled:
      t.push_back({r.run_at, r.id, TimerKind::kActivate});
      if (r.deadline) t.push_back({*r.deadline, r.id, TimerKind::kDeadline});
      break;
    case JobState::kQueued:
      if (r.deadline) t.push_back({*r.deadline, r.id, TimerKind::kDeadline});
      break;
    case JobState::kRunning:
      if (r.lease_expires_at) t.push_back({*r.lease_expires_at, r.id, TimerKind::kLeaseExpiry});
      break;
    case JobState::kFailed:  // kept until retried or discarded (SPEC §1 Retention)
      break;
    case JobState::kSucceeded:
    case JobState::kCancelled:
    case JobState::kExpired:
      t.push_back({r.finished_at.value_or(r.created_at) + retention_ms_, r.id, TimerKind::kPurge});
      break;
  }
  return t;
}

void JobIndex::attach(const JobRecord& r) {
  QueueState& q = queue(r.queue);
  ++q.counts[static_cast<int>(r.state)];
  if (r.state == JobState::kQueued) q.ready.insert(ready_key(r));
  for (const Timer& t : timers_of(r)) timers_.insert(t);
  if (!r.idempotency_key.empty()) keys_[{r.queue, r.idempotency_key}] = r.id;
}

void JobIndex::detach(const JobRecord& r) {
  QueueState& q = queue(r.queue);
  --q.counts[static_cast<int>(r.state)];
  if (r.state == JobState::kQueued) q.ready.erase(ready_key(r));
  for (const Timer& t : timers_of(r)) timers_.erase(t);
  if (!r.idempotency_key.empty()) keys_.erase({r.queue, r.idempotency_key});
}

JobRecord* JobIndex::first_ready(QueueState& q) {
  if (q.ready.empty()) return nullptr;
  return find(std::get<2>(*q.ready.begin()));
}

std::int64_t JobIndex::ready_ahead(const QueueState& q, const JobRecord& rec) const {
  return static_cast<std::int64_t>(q.ready.order_of_key(ready_key(rec)));
}

std::optional<std::int64_t> JobIndex::oldest_ready_ms(const QueueState& q, Millis now) const {
  // The ready set is ordered by priority first; the oldest job is the first
  // of one of the priority groups, so visit just the first of each group.
  std::optional<Millis> oldest;
  auto it = q.ready.begin();
  while (it != q.ready.end()) {
    const auto [neg_priority, ready_at, id] = *it;
    if (!oldest || ready_at < *oldest) oldest = ready_at;
    it = q.ready.lower_bound({neg_priority + 1, std::numeric_limits<Millis>::min(), JobId{}});
  }
  if (!oldest) return std::nullopt;
  return std::max<std::int64_t>(0, now - *oldest);
}

std::optional<Millis> JobIndex::next_timer_at() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->at;
}

std::vector<Timer> JobIndex::take_due(Millis now) {
  std::vector<Timer> due;
  while (!timers_.empty() && timers_.begin()->at <= now) {
    due.push_back(*timers_.begin());
    timers_.erase(timers_.begin());
  }
  return due;
}

}  // namespace errand::embedded
