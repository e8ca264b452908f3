// Turns a failed client call into what the CLI shows: one sentence for
// stderr and the exit code (commands.hpp). Pure.
#pragma once

#include <string>
#include <string_view>

#include "errand/client.hpp"

namespace errand::cli {

struct CliError {
  int exit_code = 0;
  std::string message;  // one sentence, without the "errand: " prefix
};

// `server` is the URL the call went to; `what` is Error::what(); `body` the
// problem+json of an HTTP error.
CliError describe_error(Error::Kind kind, int status, std::string_view what, std::string_view body,
                        std::string_view server);

inline CliError describe_error(const Error& e, std::string_view server) {
  return describe_error(e.kind(), e.status(), e.what(), e.body(), server);
}

// `text` with a final period unless it ends a sentence already.
std::string as_sentence(std::string text);

// Checks a --server value; returns why it is unusable, or an empty string.
std::string check_server_url(std::string_view url);

}  // namespace errand::cli
