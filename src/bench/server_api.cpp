#include "bench/server_api.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "bench/task_group.hpp"

#include <unistd.h>

namespace errand::bench {
namespace {

namespace json = boost::json;

// The server's problem+json detail (or title), else the body's start.
std::string problem_text(const std::string& body) {
  boost::system::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (!ec && doc.is_object()) {
    for (const char* key : {"detail", "title"}) {
      if (const auto* v = doc.as_object().if_contains(key); v && v->is_string()) {
        return std::string(v->as_string());
      }
    }
  }
  return body.substr(0, 200);
}

json::value parse_or_fail(const HttpResponse& response, std::string_view what) {
  boost::system::error_code ec;
  json::value doc = json::parse(response.body, ec);
  if (ec) throw BenchFailure(std::string(what) + " answered a body that is not JSON");
  return doc;
}

}  // namespace

const std::string& job_body() {
  static const std::string body =
      json::serialize(json::object{{"payload", std::string(kPayloadBytes, 'x')}});
  return body;
}

std::string batch_body(int jobs) {
  std::string body = "{\"jobs\":[";
  for (int i = 0; i < jobs; ++i) {
    if (i > 0) body += ',';
    body += job_body();
  }
  body += "]}";
  return body;
}

std::string jobs_target(std::string_view queue) {
  return "/v1/queues/" + std::string(queue) + "/jobs";
}

std::string batch_target(std::string_view queue) {
  return "/v1/queues/" + std::string(queue) + "/batch";
}

void expect_status(const HttpResponse& response, int expected, std::string_view method,
                   std::string_view target, const ServerAddress& server) {
  if (response.status == expected) return;
  if (response.status == 0) {
    throw BenchFailure("cannot reach errand at " + server.url + ": " + response.error);
  }
  throw BenchFailure(std::string(method) + " " + std::string(target) + " answered " +
                     std::to_string(response.status) + " instead of " + std::to_string(expected) +
                     ": " + problem_text(response.body));
}

void expect_round_trip(const HttpResponse& response, std::string_view target,
                       const ServerAddress& server) {
  if (response.status == 202) {
    throw BenchFailure("a round trip was not finished within its wait (POST " +
                       std::string(target) + " answered 202): is another worker taking its jobs?");
  }
  expect_status(response, 200, "POST", target, server);
  const json::value doc = parse_or_fail(response, "POST " + std::string(target));
  const auto is = [&doc](std::string_view key, std::string_view value) {
    const auto* v = doc.as_object().if_contains(key);
    return v != nullptr && v->is_string() && v->as_string() == value;
  };
  if (!is("state", "succeeded") || !is("result", kResult)) {
    throw BenchFailure("a round trip came back without the worker's result: " +
                       response.body.substr(0, 300));
  }
}

net::awaitable<std::vector<std::string>> submit_batch(HttpConnection& connection,
                                                      const ServerAddress& server,
                                                      std::string_view queue, int jobs) {
  const std::string target = batch_target(queue);
  const HttpResponse response =
      co_await connection.request("POST", target, batch_body(jobs), {}, kRequestTimeout);
  expect_status(response, 202, "POST", target, server);
  const json::value doc = parse_or_fail(response, "POST " + target);
  std::vector<std::string> ids;
  for (const json::value& job : doc.at("jobs").as_array()) {
    ids.emplace_back(job.at("id").as_string());
  }
  co_return ids;
}

net::awaitable<std::vector<LeasedJob>> lease(HttpConnection& connection,
                                             const ServerAddress& server, std::string_view queue,
                                             int max, int wait_seconds) {
  static const std::string worker = "errand-bench/" + std::to_string(::getpid());
  const std::string body = json::serialize(json::object{
      {"queues", json::array{queue}}, {"worker", worker}, {"max", max}, {"lease_ms", 60'000}});
  const std::string wait = "wait=" + std::to_string(wait_seconds);
  const HttpResponse response = co_await connection.request(
      "POST", "/v1/leases", body, wait, kRequestTimeout + std::chrono::seconds(wait_seconds));
  expect_status(response, 200, "POST", "/v1/leases", server);
  const json::value doc = parse_or_fail(response, "POST /v1/leases");
  std::vector<LeasedJob> jobs;
  for (const json::value& job : doc.at("jobs").as_array()) {
    jobs.push_back(
        {std::string(job.at("id").as_string()), std::string(job.at("lease").as_string())});
  }
  co_return jobs;
}

net::awaitable<void> ack_all(HttpConnection& connection, const ServerAddress& server,
                             const std::vector<LeasedJob>& jobs) {
  json::array acks;
  acks.reserve(jobs.size());
  for (const LeasedJob& job : jobs) {
    acks.push_back(json::object{{"id", job.id}, {"lease", job.lease}, {"result", kResult}});
  }
  const std::string body = json::serialize(json::object{{"acks", std::move(acks)}});
  const HttpResponse response =
      co_await connection.request("POST", "/v1/acks", body, {}, kRequestTimeout);
  expect_status(response, 200, "POST", "/v1/acks", server);
  const json::value doc = parse_or_fail(response, "POST /v1/acks");
  for (const json::value& result : doc.at("results").as_array()) {
    if (!result.at("ok").as_bool()) {
      throw BenchFailure("POST /v1/acks refused an ack: " + json::serialize(result));
    }
  }
}

net::awaitable<std::map<std::string, std::int64_t>> queue_counts(HttpConnection& connection,
                                                                 const ServerAddress& server,
                                                                 std::string_view queue) {
  const std::string target = "/v1/queues/" + std::string(queue);
  const HttpResponse response = co_await connection.request("GET", target, {}, {}, kRequestTimeout);
  std::map<std::string, std::int64_t> counts;
  if (response.status == 404) co_return counts;
  expect_status(response, 200, "GET", target, server);
  const json::value doc = parse_or_fail(response, "GET " + target);
  for (const auto& [state, count] : doc.at("counts").as_object()) {
    counts[std::string(state)] = count.to_number<std::int64_t>();
  }
  co_return counts;
}

net::awaitable<std::string> metrics_text(HttpConnection& connection, const ServerAddress& server) {
  const HttpResponse response =
      co_await connection.request("GET", "/metrics", {}, {}, kRequestTimeout);
  if (response.status == 401 || response.status == 403) co_return std::string();
  expect_status(response, 200, "GET", "/metrics", server);
  co_return response.body;
}

}  // namespace errand::bench
