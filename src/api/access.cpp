// Which endpoint needs what (the table of docs/security.md), and the 401s
// and 403s. Unknown paths need an admin token for every queue, so that an
// endpoint added without a line here is closed, not open.
#include "api/access.hpp"

#include <boost/url/parse_query.hpp>

#include <algorithm>
#include <cctype>

#include "api/access_credentials.hpp"
#include "api/flow_documents.hpp"
#include "api/handlers.hpp"
#include "api/http/problem.hpp"
#include "api/json_body.hpp"
#include "api/web_handlers.hpp"
#include "logging/log.hpp"

namespace errand::api {
namespace {

constexpr std::string_view kChallenge = R"(Bearer realm="errand")";
constexpr Role kRoles[] = {Role::kSubmit, Role::kWork, Role::kAdmin};

// Where the queues of a request come from.
enum class Queues {
  kPath,          // /v1/queues/{queue}/...
  kEvery,         // it sees every queue (lists, metrics, alerts)
  kQueryOrEvery,  // ?queue= names them; without it, every queue
  kLeaseBody,     // {"queues": [...]}
  kAcksBody,      // {"acks": [{"id"}...]}: the queues of those jobs
  kFlowBody,      // every step's queue and compensate queue
  kJob,           // the queue of the job named in the path
  kFlow,          // the queues of the steps of the flow named in the path
};

struct Requirement {
  RoleSet roles;
  Queues queues = Queues::kEvery;
};

const Requirement kAdminEverywhere{{Role::kAdmin}, Queues::kEvery};

// The table of docs/security.md "Roles", by path and method. Methods a path
// does not accept need what its other methods need: the route answers 405.
Requirement requirement_of(const std::string& m, const std::vector<std::string>& p) {
  const std::size_t n = p.size();
  const RoleSet submit{Role::kSubmit};
  const RoleSet work{Role::kWork};
  const RoleSet admin{Role::kAdmin};
  if (n < 2 || p[0] != "v1") return kAdminEverywhere;  // /metrics and anything unknown
  const std::string& what = p[1];
  const std::string action = n == 4 ? p[3] : "";
  if (what == "queues") {
    if (n == 2) return {admin, Queues::kEvery};
    if (n == 3 || action == "pause" || action == "resume") return {admin, Queues::kPath};
    if (action == "jobs" || action == "batch") return {submit, Queues::kPath};
    return kAdminEverywhere;
  }
  if (what == "events" && n == 2) return {admin, Queues::kQueryOrEvery};
  if (what == "leases" && n == 2) return {work, Queues::kLeaseBody};
  if (what == "acks" && n == 2) return {work, Queues::kAcksBody};
  if (what == "flows") {
    if (n == 2) return m == "POST" ? Requirement{submit, Queues::kFlowBody} : kAdminEverywhere;
    if (n == 3 || action == "events" || action == "cancel") return {submit, Queues::kFlow};
    return kAdminEverywhere;
  }
  if (what == "jobs") {
    if (n == 2) return {admin, Queues::kQueryOrEvery};
    if (n == 3)
      return m == "DELETE" ? Requirement{admin, Queues::kJob}
                           : Requirement{{Role::kSubmit, Role::kWork}, Queues::kJob};
    if (action == "events") return {{Role::kSubmit, Role::kWork}, Queues::kJob};
    if (action == "cancel") return {submit, Queues::kJob};
    if (action == "retry") return {admin, Queues::kJob};
    if (action == "ack" || action == "fail" || action == "heartbeat") return {work, Queues::kJob};
  }
  return kAdminEverywhere;
}

// Paths that hold no data: health checks and the dashboard's files.
bool is_open(const std::vector<std::string>& p) {
  if (p.size() == 1) return p[0] == "healthz" || p[0] == "readyz" || p[0].empty();
  return !p.empty() && p[0] == kDashboardPrefix;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string_view trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// The token of `Authorization: Bearer <token>`; nullopt when the header is
// absent or uses another scheme, "" when Bearer comes without a token.
std::optional<std::string_view> bearer_token(const http::Request& req) {
  const auto value = req.header("authorization");
  if (!value) return std::nullopt;
  const std::string_view v = trimmed(*value);
  const auto space = v.find_first_of(" \t");
  if (!equals_ignoring_case(v.substr(0, space), "bearer")) return std::nullopt;
  return space == std::string_view::npos ? std::string_view() : trimmed(v.substr(space));
}

// Adds members to a problem+json body (an object ending in '}').
void add_members(http::Response& r, const std::string& members) {
  if (members.empty() || r.body.empty() || r.body.back() != '}') return;
  r.body.pop_back();
  r.body += members + "}";
}

http::Response unauthorized(const http::Request& req, bool token_given) {
  const bool has_header = req.header("authorization").has_value();
  const std::string detail =
      token_given  ? "the token is not valid here: check the secret sent as Authorization: Bearer "
                     "<token>"
      : has_header ? "the Authorization header must be 'Bearer <token>'"
                   : "this server needs a token: send it as Authorization: Bearer <token> "
                     "(docs/security.md)";
  auto r = http::problem(401, detail);
  r.set("WWW-Authenticate", token_given ? std::string(kChallenge) + R"(, error="invalid_token")"
                                        : std::string(kChallenge));
  log::write(token_given ? log::Level::kInfo : log::Level::kDebug, "request refused",
             {{"status", 401},
              {"reason", token_given  ? "unknown token"
                         : has_header ? "not a bearer token"
                                      : "no token"},
              {"method", req.method},
              {"path", req.path()},
              {"remote", req.remote}});
  return r;
}

http::Response forbidden(const http::Request& req, const Principal& who, const AccessDecision& d) {
  auto r = http::problem(403, d.detail);
  std::string members = ",\"token\":" + quote(who.name);
  if (d.denial == Denial::kRole) {
    std::string roles;
    for (Role role : kRoles) {
      if (d.roles.contains(role)) roles += (roles.empty() ? "" : ",") + quote(role_name(role));
    }
    members += ",\"missing\":\"role\",\"roles\":[" + roles + "]";
  } else if (d.denial == Denial::kQueue) {
    members += ",\"missing\":\"queue\",\"queue\":" + quote(d.queue);
  } else {
    members += ",\"missing\":\"every_queue\"";
  }
  add_members(r, members);
  r.set("WWW-Authenticate", std::string(kChallenge) + R"(, error="insufficient_scope")");
  log::info("request refused", {{"status", 403},
                                {"token", who.name},
                                {"reason", d.detail},
                                {"method", req.method},
                                {"path", req.path()},
                                {"remote", req.remote}});
  return r;
}

// The `queue` query parameters (each must be in scope); empty: none given.
std::vector<std::string> queues_in_query(const http::Request& req) {
  std::vector<std::string> out;
  auto params = boost::urls::parse_query(req.query());
  if (!params) return out;  // the handler answers 400
  for (const auto& param : *params) {
    if (param.key.decode() == "queue") out.push_back(param.value.decode());
  }
  return out;
}

// The members a body names: what the handler will act on. A body the
// handler will refuse (400, 415) names nothing here.
std::vector<std::string> queues_in_lease(const http::Request& req) {
  std::vector<std::string> out;
  auto body = parse_json_body(req);
  const json::object* o = body ? body->if_object() : nullptr;
  const json::value* queues = o ? o->if_contains("queues") : nullptr;
  if (queues == nullptr || !queues->is_array()) return out;
  for (const auto& q : queues->get_array()) {
    if (q.is_string()) out.emplace_back(q.get_string());
  }
  return out;
}

std::vector<std::string> queues_in_flow(const http::Request& req) {
  std::vector<std::string> out;
  auto body = parse_json_body(req);
  if (!body || !body->is_object()) return out;
  auto spec = parse_flow(body->get_object(), now_millis());
  if (!spec) return out;
  for (const auto& step : spec->steps) {
    out.push_back(step.job.queue);
    if (step.compensate) out.push_back(step.compensate->queue);
  }
  return out;
}

std::vector<JobId> jobs_in_acks(const http::Request& req) {
  std::vector<JobId> out;
  auto body = parse_json_body(req);
  const json::object* o = body ? body->if_object() : nullptr;
  const json::value* acks = o ? o->if_contains("acks") : nullptr;
  if (acks == nullptr || !acks->is_array()) return out;
  for (const auto& ack : acks->get_array()) {
    const json::value* id = ack.is_object() ? ack.get_object().if_contains("id") : nullptr;
    if (id == nullptr || !id->is_string()) continue;
    if (auto parsed = JobId::parse(id->get_string())) out.push_back(*parsed);
  }
  return out;
}

// The queue of job `id`; none when there is no such job (the handler's 404).
asio::awaitable<std::optional<std::string>> queue_of_job(State& s, const JobId& id) {
  auto job = co_await await_result<JobView>([&](auto cb) { s.broker.get(id, std::move(cb)); });
  if (!job) co_return std::nullopt;
  co_return job->record.queue;
}

// The queues of what `req` touches, for a token limited to some queues.
asio::awaitable<AccessNeed> scoped_need(State& s, const http::Request& req,
                                        const std::vector<std::string>& p, Requirement r) {
  AccessNeed need{r.roles, {}, false};
  switch (r.queues) {
    case Queues::kPath:
      need.queues.push_back(p[2]);
      break;
    case Queues::kEvery:
      need.every_queue = true;
      break;
    case Queues::kQueryOrEvery:
      need.queues = queues_in_query(req);
      need.every_queue = need.queues.empty();
      break;
    case Queues::kLeaseBody:
      need.queues = queues_in_lease(req);
      break;
    case Queues::kFlowBody:
      need.queues = queues_in_flow(req);
      break;
    case Queues::kAcksBody: {
      const std::vector<JobId> ids = jobs_in_acks(req);
      for (const JobId& id : ids) {
        if (auto q = co_await queue_of_job(s, id)) need.queues.push_back(std::move(*q));
      }
      break;
    }
    case Queues::kJob:
      if (auto id = JobId::parse(p[2])) {
        if (auto q = co_await queue_of_job(s, *id)) need.queues.push_back(std::move(*q));
      }
      break;
    case Queues::kFlow:
      if (auto id = JobId::parse(p[2])) {
        auto flow = co_await await_result<FlowView>(
            [&](auto cb) { s.broker.get_flow(*id, std::move(cb)); });
        if (flow) {
          for (const auto& step : flow->steps) need.queues.push_back(step.queue);
        }
      }
      break;
  }
  co_return need;
}

}  // namespace

asio::awaitable<std::optional<http::Response>> check_access(State& s, const http::Request& req,
                                                            const std::vector<std::string>& p) {
  const Credentials* credentials = s.options.credentials.get();
  if (credentials == nullptr || req.method == "OPTIONS" || is_open(p)) co_return std::nullopt;
  const auto token = bearer_token(req);
  const Principal* who = token ? credentials->authenticate(*token) : nullptr;
  if (who == nullptr) co_return unauthorized(req, token.has_value());

  const Requirement r = requirement_of(req.method, p);
  // The role first: it needs no read. A token for every queue needs no more.
  AccessNeed need{r.roles, {}, false};
  AccessDecision d = authorize(*who, need);
  if (d.allowed() && !who->every_queue()) {
    need = co_await scoped_need(s, req, p, r);
    d = authorize(*who, need);
  }
  if (!d.allowed()) co_return forbidden(req, *who, d);
  log::debug("request authorized",
             {{"token", who->name}, {"method", req.method}, {"path", req.path()}});
  co_return std::nullopt;
}

}  // namespace errand::api
