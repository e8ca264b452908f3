// Operators: list jobs, retry and discard them, queue stats, pause/resume,
// readiness.
#include <boost/url/parse_query.hpp>

#include "api/documents.hpp"
#include "api/handlers.hpp"
#include "api/json_body.hpp"
#include "core/queue_name.hpp"
#include "logging/log.hpp"

namespace errand::api {

Reply list_jobs(State& s, http::Request& req) {
  ListSpec spec;
  auto params = boost::urls::parse_query(req.query());
  if (!params) co_return error_response(invalid_argument("the query string is malformed"));
  for (const auto& p : *params) {
    const std::string key = p.key.decode();
    const std::string value = p.value.decode();
    if (key == "queue") {
      if (!is_valid_queue_name(value))
        co_return error_response(
            invalid_argument("queue '" + value + "' is not a valid queue name"));
      spec.queue = value;
    } else if (key == "state") {
      spec.state = parse_job_state(value);
      if (!spec.state)
        co_return error_response(
            invalid_argument("state must be one of scheduled, queued, running, succeeded, failed, "
                             "cancelled, expired"));
    } else if (key == "limit") {
      int limit = 0;
      try {
        std::size_t used = 0;
        limit = std::stoi(value, &used);
        if (used != value.size()) limit = 0;
      } catch (const std::exception&) {
        limit = 0;
      }
      if (limit < 1 || limit > 1000)
        co_return error_response(invalid_argument("limit must be an integer from 1 to 1000"));
      spec.limit = limit;
    } else if (key == "cursor") {
      auto id = JobId::parse(value);
      if (!id)
        co_return error_response(
            invalid_argument("cursor must be the 'next' value of a previous page"));
      spec.before = *id;
    } else {
      co_return error_response(invalid_argument("unknown query parameter '" + key + "'"));
    }
  }
  auto page = co_await await_result<JobPage>(
      [&](auto cb) { s.broker.list(std::move(spec), std::move(cb)); });
  if (!page) co_return error_response(page.status());
  std::string out = "{\"jobs\":[";
  for (std::size_t i = 0; i < page->jobs.size(); ++i) {
    if (i) out += ',';
    out += job_document(page->jobs[i]);
  }
  out +=
      "],\"next\":" + (page->next ? "\"" + page->next->to_string() + "\"" : std::string("null")) +
      "}";
  co_return json_response(200, out);
}

Reply retry_job(State& s, JobId id) {
  auto job = co_await await_result<JobView>([&](auto cb) { s.broker.retry(id, std::move(cb)); });
  if (!job) co_return error_response(job.status());
  co_return json_response(200, job_document(*job));
}

Reply delete_job(State& s, JobId id) {
  auto r = co_await await_result<Empty>([&](auto cb) { s.broker.discard(id, std::move(cb)); });
  if (!r) co_return error_response(r.status());
  log::info("job discarded", {{"job", id.to_string()}});
  http::Response resp;
  resp.status = 204;
  co_return resp;
}

Reply list_queues(State& s) {
  auto qs = co_await await_result<std::vector<QueueStats>>(
      [&](auto cb) { s.broker.queues(std::move(cb)); });
  if (!qs) co_return error_response(qs.status());
  std::string out = "{\"queues\":[";
  for (std::size_t i = 0; i < qs->size(); ++i) {
    if (i) out += ',';
    out += queue_document((*qs)[i]);
  }
  co_return json_response(200, out + "]}");
}

Reply get_queue(State& s, const std::string& queue) {
  auto q =
      co_await await_result<QueueStats>([&](auto cb) { s.broker.queue(queue, std::move(cb)); });
  if (!q) co_return error_response(q.status());
  co_return json_response(200, queue_document(*q));
}

Reply pause_queue(State& s, const std::string& queue, bool paused) {
  auto q = co_await await_result<QueueStats>(
      [&](auto cb) { s.broker.set_paused(queue, paused, std::move(cb)); });
  if (!q) co_return error_response(q.status());
  log::info(paused ? "queue paused" : "queue resumed", {{"queue", queue}});
  co_return json_response(200, queue_document(*q));
}

Reply configure_queue(State& s, http::Request& req, const std::string& queue) {
  auto body = parse_json_body(req);
  if (!body) co_return error_response(body.status());
  if (!body->is_object())
    co_return error_response(invalid_argument("the body must be a JSON object"));
  const json::object& o = body->get_object();
  Fields f(o);
  f.only({"max_queued"});
  QueueSettingsChange change;
  if (const json::value* v = o.if_contains("max_queued"); v && v->is_null()) {
    change.max_queued = 0;  // null removes the limit
  } else {
    change.max_queued = f.integer("max_queued", 1, kMaxQueuedLimit);
  }
  if (!f.status().is_ok()) co_return error_response(f.status());
  auto q = co_await await_result<QueueStats>(
      [&](auto cb) { s.broker.configure_queue(queue, change, std::move(cb)); });
  if (!q) co_return error_response(q.status());
  log::info("queue configured",
            {{"queue", queue}, {"max_queued", q->max_queued ? *q->max_queued : 0}});
  co_return json_response(200, queue_document(*q));
}

Reply readiness(State& s) {
  if (s.draining) co_return error_response(unavailable("draining: the server is shutting down"));
  if (!s.broker.healthy())
    co_return error_response(unavailable("the store cannot write; see the server log"));
  co_return json_response(200, R"({"status":"ready"})");
}

}  // namespace errand::api
