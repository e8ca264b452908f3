// Access control at the HTTP edge (SPEC §5, docs/security.md): which role
// and which queues each endpoint needs, the 401 for a missing or unknown
// token and the 403 for one that lacks the role or a queue. It runs before
// any handler, so a refused request changes nothing.
//
// Thread-safe: runs on many connection strands at once; reads only.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

#include "api/api.hpp"
#include "api/http/message.hpp"

namespace errand::api {

// The 401 or 403 for `req` (whose path split_path made `segments`), or
// nullopt when it may go on: always when no token is configured, and for
// /healthz, /readyz, the dashboard's files and OPTIONS. A token limited to
// some queues has the queues of a request checked, which for a job or a flow
// named by id means reading it first (an unknown one goes on, to its 404).
boost::asio::awaitable<std::optional<http::Response>> check_access(
    Api::State& s, const http::Request& req, const std::vector<std::string>& segments);

}  // namespace errand::api
