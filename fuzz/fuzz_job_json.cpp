// Submit bodies as the API reads them: the bytes are the body of a
// POST /v1/queues/{q}/jobs, /batch or /v1/flows. Each goes through
// parse_json_body, then parse_submit (the body, and each element of a
// "jobs" array as a batch reads it) and parse_flow (which checks the
// flow's shape with validate_flow_shape).
//
// Invariants: nothing crashes; a refusal is a 400 or 413 with a message; an
// accepted job keeps its payload and stays within the documented ranges;
// written back as a body (spec_bodies.hpp) it is accepted again as the same
// spec; stored (the job record, or the flow record holding a flow's step
// specs) it reads back the same.
#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "api/documents.hpp"
#include "api/flow_documents.hpp"
#include "api/json_body.hpp"
#include "check.hpp"
#include "core/queue_name.hpp"
#include "engine/flow_record.hpp"
#include "spec_bodies.hpp"
#include "store/embedded/record_codec.hpp"

namespace errand::fuzz {
namespace {

namespace json = boost::json;

// A fixed "now": delay_ms and ttl_ms become the same times on every run.
constexpr Millis kNow = 1'800'000'000'000;

void check_refusal(const Status& st, const char* what) {
  check(st.code() == Code::kInvalidArgument || st.code() == Code::kTooLarge, what, st.message());
  check(!st.message().empty(), what, "a refusal without a message");
}

void check_ranges(const SubmitSpec& s) {
  check(s.priority >= -1'000'000 && s.priority <= 1'000'000, "priority within its range");
  check(s.max_attempts >= 1 && s.max_attempts <= 1000, "max_attempts within its range");
  check(s.lease_ms >= 1 && s.lease_ms <= 24LL * 3600 * 1000, "lease_ms within its range");
  check(s.backoff.validate().is_ok(), "an accepted backoff is valid",
        s.backoff.validate().message());
  check(s.tags.size() <= 32, "at most 32 tags");
  for (const auto& t : s.tags) check(!t.empty() && t.size() <= 128, "tags of 1 to 128 bytes");
  check(s.idempotency_key.size() <= 256, "an idempotency key of at most 256 bytes");
  check(s.payload_json.size() <= api::kMaxPayloadBytes, "a payload within the limit");
}

// The job record the broker would store for `s` (the fields a submit sets).
JobRecord record_of(const SubmitSpec& s) {
  JobRecord r;
  r.id = *JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e");
  r.queue = s.queue;
  r.priority = s.priority;
  r.max_attempts = s.max_attempts;
  r.backoff = s.backoff;
  r.lease_ms = s.lease_ms;
  r.created_at = kNow;
  r.run_at = s.run_at.value_or(kNow);
  r.deadline = s.deadline;
  r.idempotency_key = s.idempotency_key;
  r.tags = s.tags;
  return r;
}

void check_submit(const json::object& body, const std::string& prefix) {
  auto spec = api::parse_submit(body, "fuzz", kNow, prefix);
  if (!spec) return check_refusal(spec.status(), "a refused job is a 400 or 413");
  check_ranges(*spec);
  check(parse_as_api(spec->payload_json) == body.at("payload"),
        "the stored payload text reads back as the payload sent", spec->payload_json);

  const json::object again_body = submit_body(*spec);
  auto again = api::parse_submit(again_body, "fuzz", kNow, prefix);
  check(again.is_ok(), "an accepted job, written back as a body, is accepted again",
        json::serialize(again_body) + " -> " + again.status().message());
  check(differences(*spec, *again).empty(), "an accepted job, written back, reads the same",
        differences(*spec, *again) + " body: " + json::serialize(again_body));

  const JobRecord record = record_of(*spec);
  const std::string stored = embedded::encode_job(record);
  const auto loaded = embedded::decode_job(stored);
  check(loaded && embedded::encode_job(*loaded) == stored,
        "the record of an accepted job reads back the same", stored);
}

// The flow record the broker would store for `spec` before any step starts.
FlowRecord entry_of(const FlowSpec& spec) {
  FlowRecord e;
  e.id = *JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9f");
  e.name = spec.name;
  e.created_at = kNow;
  e.deadline = spec.deadline;
  e.idempotency_key = spec.idempotency_key;
  for (const FlowStepSpec& s : spec.steps) {
    e.steps.push_back({s.name, s.after, s.job.queue, std::nullopt, s.job, s.compensate.has_value(),
                       s.compensate, std::nullopt});
  }
  e.status.steps.resize(e.steps.size());
  return e;
}

void check_flow(const json::object& body) {
  auto spec = api::parse_flow(body, kNow);
  if (!spec) return check_refusal(spec.status(), "a refused flow is a 400 or 413");
  check(!spec->steps.empty() && spec->steps.size() <= kMaxFlowSteps, "1 to 100 steps");
  std::vector<FlowStepShape> shapes;
  for (const FlowStepSpec& s : spec->steps) {
    shapes.push_back({s.name, s.after, s.compensate.has_value()});
    check(is_valid_queue_name(s.job.queue), "a step's queue is a valid name", s.job.queue);
    check(s.job.idempotency_key.empty(), "a step job has no idempotency key of its own");
    check_ranges(s.job);
    if (s.compensate) {
      check(is_valid_queue_name(s.compensate->queue), "a compensation's queue is a valid name");
      check_ranges(*s.compensate);
    }
  }
  check(validate_flow_shape(shapes).is_ok(), "an accepted flow has a valid shape");

  const json::object again_body = flow_body(*spec, kNow);
  auto again = api::parse_flow(again_body, kNow);
  check(again.is_ok(), "an accepted flow, written back as a body, is accepted again",
        json::serialize(again_body) + " -> " + again.status().message());
  check(differences(*spec, *again).empty(), "an accepted flow, written back, reads the same",
        differences(*spec, *again) + " body: " + json::serialize(again_body));

  const std::string stored = encode_flow(entry_of(*spec));
  const auto loaded = decode_flow(stored);
  check(loaded.has_value(), "the record of an accepted flow can be read", stored);
  check(encode_flow(*loaded) == stored, "the record of an accepted flow reads back", stored);
  for (std::size_t i = 0; i < spec->steps.size(); ++i) {
    const auto& step = loaded->steps[i];
    check(step.spec.has_value(), "a stored step keeps its job until it starts");
    std::string diff = differences(spec->steps[i].job, *step.spec);
    if (spec->steps[i].compensate)
      diff += differences(*spec->steps[i].compensate, *step.compensate);
    check(diff.empty(), "a stored step's jobs read back as submitted", diff);
  }
}

}  // namespace
}  // namespace errand::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace errand;
  using namespace errand::fuzz;
  http::Request req;
  req.method = "POST";
  req.target = "/v1/queues/fuzz/jobs";
  req.headers.emplace_back("Content-Type", "application/json");
  req.body.assign(reinterpret_cast<const char*>(data), size);
  auto body = api::parse_json_body(req);
  if (!body) {
    check(body.status().code() == Code::kInvalidArgument, "a body that is not JSON is a 400",
          body.status().message());
    return 0;
  }
  const json::object* obj = body->if_object();
  if (obj == nullptr) return 0;
  check_submit(*obj, "");
  if (const json::value* jobs = obj->if_contains("jobs"); jobs && jobs->is_array()) {
    const json::array& arr = jobs->get_array();
    for (std::size_t i = 0; i < arr.size() && i < 1000; ++i) {
      if (arr[i].is_object()) check_submit(arr[i].get_object(), "jobs[" + std::to_string(i) + "].");
    }
  }
  check_flow(*obj);
  return 0;
}
