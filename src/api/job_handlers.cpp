// Producers: submit (one or a batch), read a job with or without waiting,
// follow its timeline, cancel it.
#include <boost/json/parse.hpp>

#include "api/documents.hpp"
#include "api/handlers.hpp"
#include "api/json_body.hpp"
#include "engine/waiter_registry.hpp"

namespace errand::api {
namespace {

constexpr std::size_t kMaxBatch = 1000;

}  // namespace

Reply submit_job(State& s, http::Request& req, const std::string& queue) {
  auto body = parse_json_body(req);
  if (!body) co_return error_response(body.status());
  if (!body->is_object())
    co_return error_response(invalid_argument("the body must be a JSON object"));
  auto spec = parse_submit(body->get_object(), queue, now_millis());
  if (!spec) co_return error_response(spec.status());
  if (auto st = take_idempotency_header(req, spec->idempotency_key); !st.is_ok()) {
    co_return error_response(st);
  }
  spec->traceparent = valid_traceparent(req);
  const auto wait = requested_wait(s, req);
  const auto deadline = Clock::now() + wait;
  const bool waits = wait.count() > 0 && !s.draining;
  spec->wants_waiting_on = !waits;  // the wait reads the job again
  std::vector<SubmitSpec> specs;
  specs.push_back(std::move(spec.value()));
  auto out = co_await await_result<std::vector<SubmitOutcome>>(
      [&](auto cb) { s.broker.submit(std::move(specs), std::move(cb)); });
  if (!out) co_return error_response(out.status());
  SubmitOutcome& o = out->front();
  if (waits && !is_terminal(o.job.record.state)) {
    auto waited =
        co_await wait_for_terminal(s, req, o.job.record.id, deadline, &o.job.payload_json);
    if (waited) o.job = std::move(waited.value());
  }
  if (wait.count() > 0) s.metrics.count_sync_wait(queue, is_terminal(o.job.record.state));
  co_return submit_answer(is_terminal(o.job.record.state), job_document(o.job),
                          "/v1/jobs/" + o.job.record.id.to_string(), o.replayed, wait);
}

Reply submit_batch(State& s, http::Request& req, const std::string& queue) {
  auto body = parse_json_body(req);
  if (!body) co_return error_response(body.status());
  const json::object* obj = body->if_object();
  const json::value* jobs = obj ? obj->if_contains("jobs") : nullptr;
  if (!jobs || !jobs->is_array()) {
    co_return error_response(invalid_argument("the body must be {\"jobs\": [<job>, ...]}"));
  }
  const json::array& arr = jobs->get_array();
  if (arr.size() > kMaxBatch) {
    co_return error_response(too_large("a batch holds at most " + std::to_string(kMaxBatch) +
                                       " jobs; this one has " + std::to_string(arr.size())));
  }
  if (arr.empty()) co_return error_response(invalid_argument("jobs must not be empty"));
  const Millis now = now_millis();
  const std::string traceparent = valid_traceparent(req);
  std::vector<SubmitSpec> specs;
  specs.reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string prefix = "jobs[" + std::to_string(i) + "].";
    if (!arr[i].is_object()) {
      co_return error_response(
          invalid_argument("jobs[" + std::to_string(i) + "] must be an object"));
    }
    auto spec = parse_submit(arr[i].get_object(), queue, now, prefix);
    if (!spec) co_return error_response(spec.status());
    spec->traceparent = traceparent;
    specs.push_back(std::move(spec.value()));
  }
  auto out = co_await await_result<std::vector<SubmitOutcome>>(
      [&](auto cb) { s.broker.submit(std::move(specs), std::move(cb)); });
  if (!out) co_return error_response(out.status());
  std::string resp = "{\"jobs\":[";
  for (std::size_t i = 0; i < out->size(); ++i) {
    const JobRecord& r = (*out)[i].job.record;
    if (i) resp += ',';
    resp += "{\"id\":\"" + r.id.to_string() + "\",\"state\":\"" + std::string(to_string(r.state)) +
            "\"}";
  }
  co_return json_response(202, resp + "]}");
}

Reply get_job(State& s, http::Request& req, JobId id) {
  const auto wait = requested_wait(s, req);
  auto job = co_await wait_for_terminal(s, req, id, Clock::now() + wait);
  if (!job) co_return error_response(job.status());
  co_return document_answer(job_document(*job), wait);
}

Reply cancel_job(State& s, JobId id) {
  auto job = co_await await_result<JobView>([&](auto cb) { s.broker.cancel(id, std::move(cb)); });
  if (!job) co_return error_response(job.status());
  co_return json_response(200, job_document(*job));
}

Reply job_events(State& s, http::Request& req, JobId id) {
  Broker& broker = s.broker;
  // A named source, not a temporary in the co_await: GCC 12 destroys such
  // a temporary twice.
  TimelineSource source{
      job_topic(id),
      [&broker, id](std::uint32_t after_seq, Callback<std::vector<TimelineEvent>> done) {
        broker.timeline(id, after_seq, std::move(done));
      },
      [&broker, id](Callback<bool> done) {
        broker.get(id, [done = std::move(done)](Result<JobView> j) {
          done(j ? Result<bool>(is_terminal(j->record.state)) : j.status());
        });
      }};
  co_return co_await timeline_events(s, req, std::move(source));
}

}  // namespace errand::api
