// errand::Error and the small value-type helpers of types.hpp.
#include "errand/client.hpp"

namespace errand {

Error::Error(Kind kind, int status, std::string message, std::string body)
    : std::runtime_error(std::move(message)),
      kind_(kind),
      status_(status),
      body_(std::move(body)) {}

bool Error::retryable() const {
  if (kind_ == Kind::kTransport) return true;
  if (kind_ != Kind::kHttp) return false;
  return status_ == 429 || status_ == 502 || status_ == 503 || status_ == 504 || status_ == 507;
}

bool Job::terminal() const {
  return state == "succeeded" || state == "failed" || state == "cancelled" || state == "expired";
}

bool Flow::terminal() const {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

}  // namespace errand
