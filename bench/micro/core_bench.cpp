// The pure rules every request touches: payload fingerprints (idempotency),
// UUIDv7 ids, their text form, RFC 3339 times (every timeline event) and the
// Prefer header (every synchronous submit).
#include <benchmark/benchmark.h>

#include <string>

#include "core/fingerprint.hpp"
#include "core/job_id.hpp"
#include "core/prefer.hpp"
#include "core/time.hpp"
#include "sample_jobs.hpp"

namespace errand::micro {
namespace {

void BM_FingerprintPayload100(benchmark::State& state) {
  const std::string payload = payload_100_json();
  for (auto _ : state) {
    benchmark::DoNotOptimize(fingerprint(payload));
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(payload.size()));
}
BENCHMARK(BM_FingerprintPayload100);

// Ids made within one millisecond, as under load: the counter path.
void BM_UuidV7NextSameMs(benchmark::State& state) {
  UuidV7Generator ids(42);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ids.next(kSampleNow));
  }
}
BENCHMARK(BM_UuidV7NextSameMs);

// A new millisecond each time: the counter is re-seeded from the RNG.
void BM_UuidV7NextNewMs(benchmark::State& state) {
  UuidV7Generator ids(42);
  Millis now = kSampleNow;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ids.next(++now));
  }
}
BENCHMARK(BM_UuidV7NextNewMs);

void BM_JobIdToString(benchmark::State& state) {
  const JobId id = UuidV7Generator(42).next(kSampleNow);
  for (auto _ : state) {
    benchmark::DoNotOptimize(id.to_string());
  }
}
BENCHMARK(BM_JobIdToString);

void BM_JobIdParse(benchmark::State& state) {
  const std::string text = UuidV7Generator(42).next(kSampleNow).to_string();
  for (auto _ : state) {
    benchmark::DoNotOptimize(JobId::parse(text));
  }
}
BENCHMARK(BM_JobIdParse);

void BM_FormatRfc3339(benchmark::State& state) {
  Millis t = kSampleNow;
  for (auto _ : state) {
    benchmark::DoNotOptimize(format_rfc3339(++t));
  }
}
BENCHMARK(BM_FormatRfc3339);

void BM_ParseRfc3339(benchmark::State& state) {
  const std::string text = format_rfc3339(kSampleNow);
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_rfc3339(text));
  }
}
BENCHMARK(BM_ParseRfc3339);

// What W3's callers send.
void BM_PreferWait(benchmark::State& state) {
  const std::string header = "wait=10";
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_prefer_wait_ms(header));
  }
}
BENCHMARK(BM_PreferWait);

}  // namespace
}  // namespace errand::micro
