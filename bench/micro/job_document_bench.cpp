// Encoding the job documents of responses (api/documents): W3's answer to a
// synchronous submit is a whole job document, and each lease of W2 holds up
// to 64 leased-job documents.
#include <benchmark/benchmark.h>

#include "api/documents.hpp"
#include "sample_jobs.hpp"

namespace errand::micro {
namespace {

JobView leased_view() {
  JobView v;
  v.record = running_record(UuidV7Generator(42).next(kSampleNow));
  v.payload_json = payload_100_json();
  return v;
}

// A job that succeeded with W3's result, as a synchronous submit returns it.
JobView succeeded_view() {
  JobView v = leased_view();
  v.record.state = JobState::kSucceeded;
  v.record.finished_at = kSampleNow + 7;
  v.record.lease_token.clear();
  v.record.lease_expires_at.reset();
  v.result_json = "\"ok\"";
  return v;
}

void BM_JobDocumentSucceeded(benchmark::State& state) {
  const JobView v = succeeded_view();
  for (auto _ : state) benchmark::DoNotOptimize(api::job_document(v));
}
BENCHMARK(BM_JobDocumentSucceeded);

void BM_LeasedJobDocument(benchmark::State& state) {
  const JobView v = leased_view();
  for (auto _ : state) benchmark::DoNotOptimize(api::leased_job_document(v));
}
BENCHMARK(BM_LeasedJobDocument);

}  // namespace
}  // namespace errand::micro
