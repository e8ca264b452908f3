// The client library's internal parts that need no server: the event-stream
// parser, URL building and answer mapping.
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "client/json_mapping.hpp"
#include "client/sse_parser.hpp"
#include "client/url.hpp"
#include "errand/client.hpp"

namespace errand::client_detail {
namespace {

std::vector<SseEvent> parse_all(const std::vector<std::string>& chunks) {
  SseParser parser;
  std::vector<SseEvent> out;
  for (const auto& c : chunks) {
    parser.feed(c, [&](const SseEvent& e) {
      out.push_back(e);
      return true;
    });
  }
  return out;
}

TEST(SseParser, ParsesEventsSplitAnywhere) {
  const std::string stream =
      "id: 1\nevent: enqueued\ndata: {\"seq\":1}\n\n: keep-alive\n\nid: 2\nevent: leased\ndata: "
      "{\"seq\":2}\n\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    const auto events = parse_all({stream.substr(0, cut), stream.substr(cut)});
    ASSERT_EQ(events.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(events[0].id, "1");
    EXPECT_EQ(events[0].type, "enqueued");
    EXPECT_EQ(events[0].data, "{\"seq\":1}");
    EXPECT_EQ(events[1].id, "2");
    EXPECT_EQ(events[1].type, "leased");
  }
}

TEST(SseParser, AcceptsCrLfAndCrLineEndsAndJoinsDataLines) {
  const auto events = parse_all({"data: a\r\ndata:b\r", "\nevent: x\r\rdata: c\n\n"});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "a\nb");
  EXPECT_EQ(events[0].type, "x");
  EXPECT_EQ(events[1].data, "c");
  EXPECT_EQ(events[1].type, "message");
}

TEST(SseParser, CommentsAndEventsWithoutDataDispatchNothing) {
  const auto events = parse_all({": keep-alive\n\nevent: lonely\n\nid: 7\n\n"});
  EXPECT_TRUE(events.empty());
}

TEST(SseParser, IdPersistsAndAnIncompleteEventIsNotDispatched) {
  SseParser parser;
  std::vector<SseEvent> out;
  const auto keep = [&](const SseEvent& e) {
    out.push_back(e);
    return true;
  };
  parser.feed("id: 5\ndata: x\n\ndata: y\n\ndata: z\n", keep);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].id, "5");
  EXPECT_EQ(parser.last_event_id(), "5");
}

TEST(SseParser, StopsWhenTheReaderSaysSo) {
  SseParser parser;
  int n = 0;
  EXPECT_FALSE(parser.feed("data: 1\n\ndata: 2\n\n", [&](const SseEvent&) { return ++n < 1; }));
  EXPECT_EQ(n, 1);
}

TEST(SseParser, RefusesAnEndlessLine) {
  SseParser parser(16);
  EXPECT_THROW(parser.feed(std::string(17, 'x'), [](const SseEvent&) { return true; }), Error);
}

TEST(Url, PercentEncodesAllButUnreserved) {
  EXPECT_EQ(percent_encode("orders.eu-1_~"), "orders.eu-1_~");
  EXPECT_EQ(percent_encode("a b/c?d&e=f%"), "a%20b%2Fc%3Fd%26e%3Df%25");
  EXPECT_EQ(percent_encode("\xC3\xA9"), "%C3%A9");
}

TEST(Url, WaitValuesAreSecondsToTheMillisecond) {
  EXPECT_EQ(wait_value(2), "2");
  EXPECT_EQ(wait_value(0.25), "0.25");
  EXPECT_EQ(wait_value(1.0001), "1.001");  // rounded up, never shorter
  EXPECT_EQ(wait_value(-1), "0");
  EXPECT_EQ(wait_duration(1.5).count(), 1500);
  EXPECT_EQ(trim_base_url("http://h:1//"), "http://h:1");
}

TEST(JsonMapping, SubmitBodyKeepsThePayloadTextAsWritten) {
  SubmitOptions o;
  o.priority = 3;
  o.tags = {"a"};
  EXPECT_EQ(submit_body(R"({"price": 1.10})", o),
            R"({"payload":{"price": 1.10},"priority":3,"tags":["a"]})");
  EXPECT_EQ(submit_body("null", {}), R"({"payload":null})");
}

TEST(JsonMapping, HeartbeatBodyCarriesProgress) {
  const auto body = heartbeat_body("tok", Progress{10, "go", R"([1])"}, 3000);
  EXPECT_EQ(
      boost::json::parse(body),
      boost::json::parse(
          R"({"lease":"tok","lease_ms":3000,"progress":{"data":[1],"percent":10,"message":"go"}})"));
}

TEST(JsonMapping, RequireJsonRejectsAnythingButOneValue) {
  EXPECT_NO_THROW(require_json(" {\"a\":[1,2]} ", "payload"));
  EXPECT_NO_THROW(require_json("\"text\"", "payload"));
  EXPECT_THROW(require_json("{} {}", "payload"), Error);
  EXPECT_THROW(require_json("", "payload"), Error);
  EXPECT_THROW(require_json("{\"a\":1,}", "payload"), Error);
}

TEST(JsonMapping, ProblemMessageIsOneLine) {
  EXPECT_EQ(problem_message(404, "Not Found",
                            R"({"type":"about:blank","title":"Not Found","status":404,)"
                            R"("detail":"no job x"})"),
            "404 Not Found: no job x");
  EXPECT_EQ(problem_message(502, "Bad Gateway", "<html>"), "502 Bad Gateway");
}

TEST(JsonMapping, JobOfASucceededJobAlwaysHasAResult) {
  const auto doc = boost::json::parse(R"({"id":"x","state":"succeeded","result":null})");
  EXPECT_EQ(job_from(doc, "").result, std::optional<std::string>("null"));
  const auto queued = boost::json::parse(R"({"id":"x","state":"queued","result":null})");
  EXPECT_FALSE(job_from(queued, "").result.has_value());
}

}  // namespace
}  // namespace errand::client_detail
