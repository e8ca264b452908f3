// The ready queue of the embedded store (JobIndex): what a submit, a lease
// and an ack do to it under the broker's mutex, at a shallow and a deep
// queue. Every case keeps the queue at its depth, so a run measures one
// depth however many iterations it takes. Each step ends with settle(), as
// each broker call does when it releases its mutex (the record goes back to
// its compact encoding).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <vector>

#include "sample_jobs.hpp"
#include "store/embedded/job_index.hpp"

namespace errand::micro {
namespace {

using embedded::JobIndex;
using embedded::QueueState;

constexpr Millis kRetentionMs = 24LL * 3600 * 1000;
// Work done outside the timer (making records, undoing leases) is done this
// many iterations at a time, so pausing the timer costs next to nothing.
constexpr std::size_t kUntimedBatch = 1024;

// One queue filled with `depth` ready jobs. Not thread-safe, as JobIndex.
class ReadyQueue {
 public:
  explicit ReadyQueue(std::int64_t depth) {
    for (std::int64_t i = 0; i < depth; ++i) index_.load(next_record());
    queue_ = &index_.queue(kSampleQueue);
  }

  JobRecord next_record() { return queued_record(ids_.next(kSampleNow)); }
  JobIndex& index() { return index_; }
  QueueState& queue() { return *queue_; }

  // What EmbeddedBroker::lease changes in the record it leases.
  void lease(JobRecord& rec) {
    index_.update(rec, [](JobRecord& j) {
      j.state = JobState::kRunning;
      ++j.attempt;
      j.started_at = kSampleNow;
      j.worker = "worker-7@host-3";
      j.lease_token = "3f9c0a7d51e24b68a0c4e7d2f1b85a69";
      j.lease_expires_at = kSampleNow + kDefaultLeaseMs;
    });
  }

  // What EmbeddedBroker::ack changes.
  void ack(JobRecord& rec) {
    index_.update(rec, [](JobRecord& j) {
      j.state = JobState::kSucceeded;
      j.finished_at = kSampleNow + 1;
      j.lease_token.clear();
      j.lease_expires_at.reset();
    });
  }

 private:
  JobIndex index_{kRetentionMs};
  UuidV7Generator ids_{42};
  QueueState* queue_ = nullptr;
};

// Inserting a submitted job; the records are made outside the timer.
void BM_ReadyQueueSubmit(benchmark::State& state) {
  ReadyQueue rq(state.range(0));
  std::vector<JobRecord> made;
  std::vector<JobId> inserted;
  for (auto _ : state) {
    if (made.empty()) {
      state.PauseTiming();
      for (const JobId& id : inserted) rq.index().erase(id);
      inserted.clear();
      for (std::size_t i = 0; i < kUntimedBatch; ++i) made.push_back(rq.next_record());
      state.ResumeTiming();
    }
    JobRecord& rec = rq.index().insert(std::move(made.back()));
    made.pop_back();
    inserted.push_back(rec.id);
    rq.index().settle();
  }
}
BENCHMARK(BM_ReadyQueueSubmit)->ArgName("depth")->Arg(1'000)->Arg(100'000);

// Taking the first ready job and marking it running; the leased jobs are put
// back in line outside the timer.
void BM_ReadyQueueLease(benchmark::State& state) {
  ReadyQueue rq(state.range(0));
  // Half the queue at most, so that a lease always finds a ready job.
  const auto batch = std::min<std::size_t>(kUntimedBatch, state.range(0) / 2);
  std::vector<JobId> leased;
  for (auto _ : state) {
    if (leased.size() == batch) {
      state.PauseTiming();
      for (const JobId& id : leased) {
        rq.index().update(*rq.index().find(id), [](JobRecord& j) { j.state = JobState::kQueued; });
      }
      rq.index().settle();
      leased.clear();
      state.ResumeTiming();
    }
    JobRecord* rec = rq.index().first_ready(rq.queue());
    rq.lease(*rec);
    leased.push_back(rec->id);
    rq.index().settle();
  }
}
BENCHMARK(BM_ReadyQueueLease)->ArgName("depth")->Arg(1'000)->Arg(100'000);

// One job's whole way through the index: submit, lease, ack, purge.
void BM_ReadyQueueLifecycle(benchmark::State& state) {
  ReadyQueue rq(state.range(0));
  for (auto _ : state) {
    rq.index().insert(rq.next_record());
    rq.index().settle();
    JobRecord* rec = rq.index().first_ready(rq.queue());
    rq.lease(*rec);
    const JobId id = rec->id;  // settle() and erase() destroy the record holding it
    rq.index().settle();
    rq.ack(*rq.index().find(id));
    rq.index().settle();
    rq.index().erase(id);
  }
}
BENCHMARK(BM_ReadyQueueLifecycle)->ArgName("depth")->Arg(1'000)->Arg(100'000);

// A job's place in line (waiting_on's `ahead`), for the job in the middle.
void BM_ReadyQueueAhead(benchmark::State& state) {
  ReadyQueue rq(state.range(0));
  auto middle = rq.index().records().begin();
  std::advance(middle, state.range(0) / 2);
  const JobRecord& rec = *rq.index().find(middle->first);
  for (auto _ : state) {
    benchmark::DoNotOptimize(rq.index().ready_ahead(rq.queue(), rec));
  }
}
BENCHMARK(BM_ReadyQueueAhead)->ArgName("depth")->Arg(1'000)->Arg(100'000);

}  // namespace
}  // namespace errand::micro
