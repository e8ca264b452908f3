// Decoding request bodies (api/json_body, api/documents): the first thing
// every submit, lease and ack does with its bytes. Bodies are the ones the
// peers harness sends (100-byte payloads), plus a submit using most options.
#include <benchmark/benchmark.h>

#include <string>

#include "api/documents.hpp"
#include "api/json_body.hpp"
#include "core/job_id.hpp"
#include "sample_jobs.hpp"

namespace errand::micro {
namespace {

http::Request json_request(std::string body) {
  http::Request req;
  req.method = "POST";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = std::move(body);
  return req;
}

// W1 and W3: just the payload.
std::string minimal_submit_body() { return "{\"payload\":" + payload_100_json() + "}"; }

// Every option a careful producer sets, around a 100-byte object payload.
std::string full_submit_body() {
  return R"({"payload":{"to":"ada@example.com","template":"welcome","locale":"en-GB",)"
         R"("vars":{"name":"Ada","plan":"pro"}},)"
         R"("priority":5,"max_attempts":3,)"
         R"("backoff":{"initial_ms":500,"multiplier":2,"max_ms":60000,"jitter":0.1},)"
         R"("ttl_ms":3600000,"idempotency_key":"order-8f14e45f-ceea-467f-a0e6-5c3b1e0f5f6a",)"
         R"("tags":["tenant:acme","kind:welcome","priority:normal"]})";
}

// The harness's W2 preload and SPEC §6's batches: `n` minimal jobs.
std::string batch_body(int n) {
  std::string body = "{\"jobs\":[";
  for (int i = 0; i < n; ++i) body += (i ? "," : "") + minimal_submit_body();
  return body + "]}";
}

// W2's batch ack after a lease of `n` jobs.
std::string acks_body(int n) {
  UuidV7Generator ids(42);
  std::string body = "{\"acks\":[";
  for (int i = 0; i < n; ++i) {
    body += std::string(i ? "," : "") + "{\"id\":\"" + ids.next(kSampleNow).to_string() +
            R"(","lease":"3f9c0a7d51e24b68a0c4e7d2f1b85a69","result":null})";
  }
  return body + "]}";
}

// parse_json_body, then parse_submit for the object or each of its "jobs".
void decode_submit(benchmark::State& state, const http::Request& req) {
  auto body = api::parse_json_body(req);
  if (!body || !body->is_object()) return state.SkipWithError("the body does not parse");
  const boost::json::object& obj = body->get_object();
  if (const auto* jobs = obj.if_contains("jobs")) {
    for (const auto& job : jobs->get_array()) {
      auto spec = api::parse_submit(job.get_object(), std::string(kSampleQueue), kSampleNow);
      if (!spec) return state.SkipWithError("a job of the batch is refused");
      benchmark::DoNotOptimize(spec);
    }
    return;
  }
  auto spec = api::parse_submit(obj, std::string(kSampleQueue), kSampleNow);
  if (!spec) return state.SkipWithError("the job is refused");
  benchmark::DoNotOptimize(spec);
}

void BM_DecodeSubmitMinimal(benchmark::State& state) {
  const http::Request req = json_request(minimal_submit_body());
  for (auto _ : state) decode_submit(state, req);
}
BENCHMARK(BM_DecodeSubmitMinimal);

void BM_DecodeSubmitFull(benchmark::State& state) {
  const http::Request req = json_request(full_submit_body());
  for (auto _ : state) decode_submit(state, req);
}
BENCHMARK(BM_DecodeSubmitFull);

void BM_DecodeSubmitBatch(benchmark::State& state) {
  const http::Request req = json_request(batch_body(static_cast<int>(state.range(0))));
  for (auto _ : state) decode_submit(state, req);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecodeSubmitBatch)->ArgName("jobs")->Arg(100);

// Only the JSON parse of worker bodies: reading their fields is private to
// api/worker_handlers.cpp (parse_lease, ack_batch).
void BM_ParseLeaseBody(benchmark::State& state) {
  const http::Request req =
      json_request(R"({"queues":["w2"],"worker":"bench-4242","max":64,"lease_ms":60000})");
  for (auto _ : state) benchmark::DoNotOptimize(api::parse_json_body(req));
}
BENCHMARK(BM_ParseLeaseBody);

void BM_ParseAckBody(benchmark::State& state) {
  const http::Request req =
      json_request(R"({"lease":"3f9c0a7d51e24b68a0c4e7d2f1b85a69","result":"ok"})");
  for (auto _ : state) benchmark::DoNotOptimize(api::parse_json_body(req));
}
BENCHMARK(BM_ParseAckBody);

void BM_ParseBatchAcksBody(benchmark::State& state) {
  const http::Request req = json_request(acks_body(static_cast<int>(state.range(0))));
  for (auto _ : state) benchmark::DoNotOptimize(api::parse_json_body(req));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ParseBatchAcksBody)->ArgName("acks")->Arg(64);

}  // namespace
}  // namespace errand::micro
