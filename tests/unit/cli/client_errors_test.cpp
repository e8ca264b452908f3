#include "cli/client_errors.hpp"

#include <gtest/gtest.h>

#include "cli/commands.hpp"

namespace errand::cli {
namespace {

constexpr const char* kServer = "http://127.0.0.1:7400";

CliError http(int status, const std::string& body) {
  return describe_error(Error::Kind::kHttp, status, "HTTP " + std::to_string(status), body,
                        kServer);
}

std::string problem(int status, const std::string& detail) {
  return R"({"type":"about:blank","title":"t","status":)" + std::to_string(status) +
         R"(,"detail":")" + detail + "\"}";
}

TEST(ClientErrors, UnreachableServerNamesTheUrl) {
  const CliError e =
      describe_error(Error::Kind::kTransport, 0, "Couldn't connect to server", "", kServer);
  EXPECT_EQ(e.exit_code, kExitError);
  EXPECT_EQ(
      e.message,
      "cannot reach the errand server at http://127.0.0.1:7400 (Couldn't connect to server).");
}

TEST(ClientErrors, UnreachableServerMessageThatNamesTheUrlIsKept) {
  const CliError e =
      describe_error(Error::Kind::kTransport, 0,
                     "cannot reach errand at http://127.0.0.1:7400: Connection refused", "",
                     "http://127.0.0.1:7400/");
  EXPECT_EQ(e.exit_code, kExitError);
  EXPECT_EQ(e.message, "cannot reach errand at http://127.0.0.1:7400: Connection refused.");
}

TEST(ClientErrors, NotFoundAndConflictAreNegativeAnswers) {
  EXPECT_EQ(http(404, problem(404, "no job 123")).exit_code, kExitNegative);
  EXPECT_EQ(http(404, problem(404, "no job 123")).message, "no job 123.");
  const CliError c = http(409, problem(409, "job x is already succeeded"));
  EXPECT_EQ(c.exit_code, kExitNegative);
  EXPECT_EQ(c.message, "job x is already succeeded.");
}

TEST(ClientErrors, OtherHttpErrorsAreErrors) {
  EXPECT_EQ(http(400, problem(400, "bad queue name")).exit_code, kExitError);
  EXPECT_EQ(http(413, problem(413, "payload too large")).message, "payload too large.");
  const CliError busy = http(503, problem(503, "the server is draining"));
  EXPECT_EQ(busy.exit_code, kExitError);
  EXPECT_EQ(busy.message,
            "the server is draining (the server at http://127.0.0.1:7400 is busy or draining: try "
            "again later).");
  EXPECT_EQ(http(401, problem(401, "missing token")).message,
            "missing token (the server at http://127.0.0.1:7400 needs a valid token: --token or "
            "ERRAND_TOKEN).");
}

TEST(ClientErrors, HttpErrorWithoutProblemBodyUsesWhat) {
  EXPECT_EQ(http(502, "<html>bad gateway</html>").message,
            "HTTP 502 (the server at http://127.0.0.1:7400 answered 502).");
}

TEST(ClientErrors, UsageErrorsKeepTheirMessage) {
  const CliError e = describe_error(Error::Kind::kUsage, 0, "payload is not JSON", "", kServer);
  EXPECT_EQ(e.exit_code, kExitError);
  EXPECT_EQ(e.message, "payload is not JSON.");
}

TEST(ClientErrors, AsSentenceAddsOnePeriod) {
  EXPECT_EQ(as_sentence("no job x"), "no job x.");
  EXPECT_EQ(as_sentence("no job x.\n"), "no job x.");
  EXPECT_EQ(as_sentence("really?"), "really?");
}

TEST(ClientErrors, ServerUrlMustBeHttp) {
  EXPECT_EQ(check_server_url("http://127.0.0.1:7400"), "");
  EXPECT_EQ(check_server_url("https://errand.example"), "");
  EXPECT_NE(check_server_url("127.0.0.1:7400"), "");
  EXPECT_NE(check_server_url("http://"), "");
  EXPECT_NE(check_server_url("ftp://x"), "");
}

}  // namespace
}  // namespace errand::cli
