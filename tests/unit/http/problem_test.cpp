#include "api/http/problem.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace errand::http {
namespace {

TEST(Problem, IsProblemJsonWithTitleFromTheStatus) {
  const auto response = problem(404, "no job \"x\"");
  EXPECT_EQ(response.status, 404);
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0].first, "Content-Type");
  EXPECT_EQ(response.headers[0].second, "application/problem+json");
  EXPECT_EQ(boost::json::parse(response.body),
            boost::json::parse(R"({"type":"about:blank","title":"Not Found","status":404,)"
                               R"("detail":"no job \"x\""})"));
}

TEST(Problem, CarriesATypeAndLeavesOutAnUnknownTitle) {
  const auto response = problem(499, "gone away", "https://errand.dev/problems/client-closed");
  const auto body = boost::json::parse(response.body).as_object();
  EXPECT_EQ(body.at("type"), "https://errand.dev/problems/client-closed");
  EXPECT_FALSE(body.contains("title"));
  EXPECT_EQ(body.at("status"), 499);
}

TEST(ReasonPhrase, UsesRfc9110Names) {
  EXPECT_EQ(reason_phrase(413), "Content Too Large");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(299), "");
}

TEST(Request, FindsHeadersIgnoringCaseAndSplitsTheTarget) {
  Request request;
  request.target = "/v1/jobs?state=failed&limit=5";
  request.headers = {{"Content-Type", "application/json"}, {"prefer", "wait=5"}};
  EXPECT_EQ(request.header("content-type"), "application/json");
  EXPECT_EQ(request.header("PREFER"), "wait=5");
  EXPECT_EQ(request.header("Accept"), std::nullopt);
  EXPECT_EQ(request.path(), "/v1/jobs");
  EXPECT_EQ(request.query(), "state=failed&limit=5");
  request.target = "/healthz";
  EXPECT_EQ(request.path(), "/healthz");
  EXPECT_EQ(request.query(), "");
}

}  // namespace
}  // namespace errand::http
