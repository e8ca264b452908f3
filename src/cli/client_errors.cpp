#include "cli/client_errors.hpp"

#include "cli/commands.hpp"
#include "cli/json_text.hpp"

namespace errand::cli {
namespace {

std::string without_period(std::string s) {
  while (!s.empty() && (s.back() == '.' || s.back() == ' ' || s.back() == '\n')) s.pop_back();
  return s;
}

bool names_url(std::string_view text, std::string_view url) {
  while (url.ends_with('/')) url.remove_suffix(1);
  return !url.empty() && text.find(url) != std::string_view::npos;
}

}  // namespace

std::string as_sentence(std::string text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
  if (text.empty()) return text;
  const char last = text.back();
  if (last != '.' && last != '!' && last != '?') text += '.';
  return text;
}

CliError describe_error(Error::Kind kind, int status, std::string_view what, std::string_view body,
                        std::string_view server) {
  const std::string at = std::string(server);
  const std::string reason = without_period(valid_utf8(what));
  switch (kind) {
    case Error::Kind::kTransport:
      // The client library's own sentence usually names the URL already.
      if (names_url(reason, at)) return {kExitError, as_sentence(reason)};
      return {kExitError, as_sentence("cannot reach the errand server at " + at +
                                      (reason.empty() ? "" : " (" + reason + ")"))};
    case Error::Kind::kProtocol:
      return {kExitError,
              as_sentence("the server at " + at + " answered something errand cannot read" +
                          (reason.empty() ? "" : " (" + reason + ")"))};
    case Error::Kind::kUsage:
    case Error::Kind::kStopped:
      return {kExitError, as_sentence(reason)};
    case Error::Kind::kHttp:
      break;
  }
  const std::string detail = without_period(problem_detail(body).value_or(
      reason.empty() ? "HTTP status " + std::to_string(status) : reason));
  switch (status) {
    case 404:
    case 409:
      return {kExitNegative, as_sentence(detail)};
    case 401:
      return {kExitError, as_sentence(detail + " (the server at " + at +
                                      " needs a valid token: --token or ERRAND_TOKEN)")};
    case 403:
      return {kExitError, as_sentence(detail + " (the token lacks the role or queue for this)")};
    case 429:
    case 503:
      return {kExitError, as_sentence(detail + " (the server at " + at +
                                      " is busy or draining: try again later)")};
    default:
      if (status >= 500) {
        return {kExitError, as_sentence(detail + " (the server at " + at + " answered " +
                                        std::to_string(status) + ")")};
      }
      return {kExitError, as_sentence(detail)};
  }
}

std::string check_server_url(std::string_view url) {
  if (url.starts_with("http://") || url.starts_with("https://")) {
    const auto host = url.substr(url.find("//") + 2);
    if (!host.empty() && host.front() != '/') return {};
  }
  return "--server (or ERRAND_URL) must be an http:// or https:// URL such as " +
         std::string(kDefaultServer) + ", not '" + std::string(url) + "'.";
}

}  // namespace errand::cli
