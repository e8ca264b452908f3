// Flows (SPEC §3 Flows): submit one with or without waiting, read it (long
// poll), follow its timeline, cancel it, list them. The rules live in the
// broker (core/flow.hpp); this is the HTTP edge.
#include <boost/url/parse_query.hpp>

#include "api/flow_documents.hpp"
#include "api/handlers.hpp"
#include "api/json_body.hpp"

namespace errand::api {
namespace {

constexpr int kMaxListLimit = 1000;

// Waits until the flow is terminal (read_until); returns the flow as last read.
asio::awaitable<Result<FlowView>> wait_for_flow_terminal(State& s, const http::Request& req,
                                                         const JobId& id,
                                                         Clock::time_point deadline) {
  return read_until<FlowView>(
      s, req, flow_topic(id), [&s, id](auto cb) { s.broker.get_flow(id, std::move(cb)); },
      [](const FlowView& flow) { return is_terminal(flow.state); }, deadline, [] { return false; });
}

// `limit` of a list query: 1 to kMaxListLimit, or nullopt.
std::optional<int> parse_limit(const std::string& text) {
  int limit = 0;
  try {
    std::size_t used = 0;
    limit = std::stoi(text, &used);
    if (used != text.size()) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (limit < 1 || limit > kMaxListLimit) return std::nullopt;
  return limit;
}

Result<FlowListSpec> parse_list_query(const http::Request& req) {
  FlowListSpec spec;
  auto params = boost::urls::parse_query(req.query());
  if (!params) return invalid_argument("the query string is malformed");
  for (const auto& p : *params) {
    const std::string key = p.key.decode();
    const std::string value = p.value.decode();
    if (key == "state") {
      spec.state = parse_flow_state(value);
      if (!spec.state) {
        return invalid_argument(
            "state must be one of running, compensating, succeeded, failed, cancelled");
      }
    } else if (key == "limit") {
      auto limit = parse_limit(value);
      if (!limit) {
        return invalid_argument("limit must be an integer from 1 to " +
                                std::to_string(kMaxListLimit));
      }
      spec.limit = *limit;
    } else if (key == "cursor") {
      auto id = JobId::parse(value);
      if (!id) return invalid_argument("cursor must be the 'next' value of a previous page");
      spec.before = *id;
    } else {
      return invalid_argument("unknown query parameter '" + key + "'");
    }
  }
  return spec;
}

}  // namespace

Result<JobId> parse_flow_id(std::string_view text) {
  auto id = JobId::parse(text);
  if (!id) return not_found("no flow " + std::string(text) + " (flow ids are UUIDs)");
  return *id;
}

Reply submit_flow(State& s, http::Request& req) {
  auto body = parse_json_body(req);
  if (!body) co_return error_response(body.status());
  if (!body->is_object()) {
    co_return error_response(invalid_argument("the body must be a JSON object"));
  }
  auto spec = parse_flow(body->get_object(), now_millis());
  if (!spec) co_return error_response(spec.status());
  if (auto st = take_idempotency_header(req, spec->idempotency_key); !st.is_ok()) {
    co_return error_response(st);
  }
  spec->traceparent = valid_traceparent(req);
  const auto wait = requested_wait(s, req);
  const auto deadline = Clock::now() + wait;
  auto out = co_await await_result<FlowSubmitOutcome>(
      [&](auto cb) { s.broker.submit_flow(std::move(spec.value()), std::move(cb)); });
  if (!out) co_return error_response(out.status());
  FlowView& flow = out->flow;
  if (wait.count() > 0 && !is_terminal(flow.state) && !s.draining) {
    auto waited = co_await wait_for_flow_terminal(s, req, flow.id, deadline);
    if (waited) flow = std::move(waited.value());
  }
  co_return submit_answer(is_terminal(flow.state), flow_document(flow),
                          "/v1/flows/" + flow.id.to_string(), out->replayed, wait);
}

Reply get_flow(State& s, http::Request& req, JobId id) {
  const auto wait = requested_wait(s, req);
  auto flow = co_await wait_for_flow_terminal(s, req, id, Clock::now() + wait);
  if (!flow) co_return error_response(flow.status());
  co_return document_answer(flow_document(*flow), wait);
}

Reply flow_events(State& s, http::Request& req, JobId id) {
  Broker& broker = s.broker;
  // A named source, not a temporary in the co_await: GCC 12 destroys such
  // a temporary twice.
  TimelineSource source{
      flow_topic(id),
      [&broker, id](std::uint32_t after_seq, Callback<std::vector<TimelineEvent>> done) {
        broker.flow_timeline(id, after_seq, std::move(done));
      },
      [&broker, id](Callback<bool> done) {
        broker.get_flow(id, [done = std::move(done)](Result<FlowView> f) {
          done(f ? Result<bool>(is_terminal(f->state)) : f.status());
        });
      }};
  co_return co_await timeline_events(s, req, std::move(source));
}

Reply cancel_flow(State& s, JobId id) {
  auto flow =
      co_await await_result<FlowView>([&](auto cb) { s.broker.cancel_flow(id, std::move(cb)); });
  if (!flow) co_return error_response(flow.status());
  co_return json_response(200, flow_document(*flow));
}

Reply list_flows(State& s, http::Request& req) {
  auto spec = parse_list_query(req);
  if (!spec) co_return error_response(spec.status());
  auto page = co_await await_result<FlowPage>(
      [&](auto cb) { s.broker.list_flows(std::move(spec.value()), std::move(cb)); });
  if (!page) co_return error_response(page.status());
  std::string out = "{\"flows\":[";
  for (std::size_t i = 0; i < page->flows.size(); ++i) {
    if (i) out += ',';
    out += flow_document(page->flows[i]);
  }
  out += "],\"next\":" + (page->next ? "\"" + page->next->to_string() + "\"" : std::string("null"));
  co_return json_response(200, out + "}");
}

}  // namespace errand::api
