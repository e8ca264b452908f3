// The embedded store's value encoding: every submit, lease and ack encodes
// the job record once (put_job) and appends a timeline event; a restart
// decodes every retained record.
#include <benchmark/benchmark.h>

#include <string>

#include "engine/timeline.hpp"
#include "sample_jobs.hpp"
#include "store/embedded/record_codec.hpp"

namespace errand::micro {
namespace {

using embedded::decode_job;
using embedded::encode_job;

enum class Sample { kQueued, kRunning };

// A record as submitted (queued) or as leased (running).
JobRecord sample_record(Sample sample) {
  const JobId id = UuidV7Generator(42).next(kSampleNow);
  return sample == Sample::kQueued ? queued_record(id) : running_record(id);
}

void BM_EncodeJob(benchmark::State& state, Sample sample) {
  const JobRecord rec = sample_record(sample);
  for (auto _ : state) {
    benchmark::DoNotOptimize(encode_job(rec));
  }
}
BENCHMARK_CAPTURE(BM_EncodeJob, queued, Sample::kQueued);
BENCHMARK_CAPTURE(BM_EncodeJob, running, Sample::kRunning);

void BM_DecodeJob(benchmark::State& state, Sample sample) {
  const std::string value = encode_job(sample_record(sample));
  for (auto _ : state) {
    auto rec = decode_job(value);
    if (!rec) state.SkipWithError("the sample record does not decode");
    benchmark::DoNotOptimize(rec);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(value.size()));
}
BENCHMARK_CAPTURE(BM_DecodeJob, queued, Sample::kQueued);
BENCHMARK_CAPTURE(BM_DecodeJob, running, Sample::kRunning);

// The "leased" event, built as EmbeddedBroker::lease builds it.
void BM_TimelineLeasedEvent(benchmark::State& state) {
  JobRecord rec = running_record(UuidV7Generator(42).next(kSampleNow));
  for (auto _ : state) {
    rec.timeline_seq = 1;  // keeps the sequence number's width constant
    benchmark::DoNotOptimize(
        next_event(rec, kSampleNow, "leased",
                   json_member("worker", rec.worker) + ",\"attempt\":1," +
                       json_member("lease_expires_at", format_rfc3339(*rec.lease_expires_at))));
  }
}
BENCHMARK(BM_TimelineLeasedEvent);

}  // namespace
}  // namespace errand::micro
