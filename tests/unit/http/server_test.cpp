// The HTTP server over real loopback sockets: routing, keep-alive, limits,
// framing attacks, streaming, deadlines, clients that leave, and shutdown.
#include "test_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <future>
#include <memory>
#include <string>
#include <vector>

namespace errand::http {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the fixture and its routes

TEST_F(ServerTest, GetIsRoutedAndKeepAliveReusesTheConnection) {
  start();
  TestClient client = connect();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, kHello);
    EXPECT_EQ(response->header("Content-Type"), "application/json");
    EXPECT_EQ(response->header("Content-Length"), std::to_string(kHello.size()));
    EXPECT_EQ(response->header("Server"), "errand");
    EXPECT_EQ(response->header("Connection"), "");
  }
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(ServerTest, ConnectionsAreDealtToTheIoContextsInTurnAndStayOnTheirThread) {
  start();
  std::vector<std::unique_ptr<TestClient>> clients;  // all open till the end
  std::vector<std::string> threads;
  for (int i = 0; i < 4; ++i) {
    TestClient& client = *clients.emplace_back(std::make_unique<TestClient>(server_->port()));
    for (int request = 0; request < 3; ++request) {
      ASSERT_TRUE(client.send("GET /thread HTTP/1.1\r\nHost: t\r\n\r\n"));
      const auto response = client.read_response();
      ASSERT_TRUE(response);
      if (request == 0) threads.push_back(response->body);
      EXPECT_EQ(response->body, threads.back()) << "connection " << i << " changed threads";
    }
  }
  EXPECT_NE(threads[0], threads[1]);
  EXPECT_EQ(threads[0], threads[2]);
  EXPECT_EQ(threads[1], threads[3]);
}

TEST_F(ServerTest, UnknownRouteGetsTheHandlersProblem) {
  start();
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->header("Content-Type"), "application/problem+json");
}

TEST_F(ServerTest, PostBodyMethodQueryAndHeadersReachTheHandler) {
  start();
  TestClient client = connect();
  const std::string body = R"({"payload":[1,2,3]})";
  ASSERT_TRUE(
      client.send("post /echo?wait=1 HTTP/1.1\r\nHost: t\r\nX-Echo: yes\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body));
  const auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, body);
  EXPECT_EQ(response->header("X-Method"), "POST");
  EXPECT_EQ(response->header("X-Query"), "wait=1");
  EXPECT_EQ(response->header("X-Echo"), "yes");
}

TEST_F(ServerTest, ChunkedRequestBodyIsDelivered) {
  start();
  TestClient client = connect();
  ASSERT_TRUE(
      client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"));
  const auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello world");
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  TestClient client = connect();
  ASSERT_TRUE(
      client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\none"
                  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\ntwo"));
  const auto first = client.read_response();
  const auto second = client.read_response();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body, "one");
  EXPECT_EQ(second->body, "two");
}

TEST_F(ServerTest, ExpectContinueGetsAnInterimResponse) {
  start();
  TestClient client = connect();
  ASSERT_TRUE(client.send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(client.read_until("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(client.send("{}"));
  const auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "{}");
}

TEST_F(ServerTest, HeadGetsTheHeadersWithoutTheBody) {
  start();
  TestClient client = connect();
  ASSERT_TRUE(client.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto head = client.read_response(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("Content-Length"), std::to_string(kHello.size()));
  // Had a body followed, this would read it as the next response.
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto get = client.read_response();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, kHello);
}

TEST_F(ServerTest, NoContentHasNoContentLength) {
  start();
  TestClient client = connect();
  ASSERT_TRUE(client.send("DELETE /no-content HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 204);
  EXPECT_EQ(response->header("Content-Length"), "");
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  start();
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  const auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("Connection"), "close");
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(ServerTest, Http10ClosesUnlessAskedToKeepAlive) {
  start();
  TestClient keep = connect();
  ASSERT_TRUE(keep.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  const auto kept = keep.read_response();
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->header("Connection"), "keep-alive");
  ASSERT_TRUE(keep.send("GET /hello HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(keep.read_response());
  EXPECT_TRUE(keep.closed_by_server());
}

TEST_F(ServerTest, DeclaredBodyOverTheLimitIs413BeforeTheBodyIsRead) {
  start({.max_body_bytes = 1024});
  const auto response =
      refused("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\n");
  EXPECT_EQ(response.status, 413);
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitIs413) {
  start({.max_body_bytes = 1024});
  const std::string chunk(800, 'x');
  const auto response =
      refused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" +
              chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
  EXPECT_EQ(response.status, 413);
}

TEST_F(ServerTest, HeaderOverTheLimitIs431) {
  start({.max_header_bytes = 4096});
  const auto response =
      refused("GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(8192, 'a') + "\r\n\r\n");
  EXPECT_EQ(response.status, 431);
}

TEST_F(ServerTest, HeaderOverTheLimitIs431EvenWhenItNeverEnds) {
  start({.max_header_bytes = 4096});
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nX-Big: " + std::string(8192, 'a')));
  const auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
}

TEST_F(ServerTest, EndlessChunkExtensionIsRefusedNotBuffered) {
  start({.max_header_bytes = 4096});
  const auto response =
      refused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=" +
              std::string(64 * 1024, 'a'));
  EXPECT_EQ(response.status, 400);
}

TEST_F(ServerTest, ContentLengthWithTransferEncodingIs400AndCloses) {
  start();
  // Beast refuses the first two itself; the third needs our own check.
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                .status,
            400);
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                    "Content-Length: 5\r\n\r\n0\r\n\r\n")
                .status,
            400);
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n"
                    "Content-Length: 5\r\n\r\nhello")
                .status,
            400);
}

TEST_F(ServerTest, RepeatedOrConflictingContentLengthIs400) {
  start();
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                    "Content-Length: 6\r\n\r\nhello!")
                .status,
            400);
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                    "Content-Length: 5\r\n\r\nhello")
                .status,
            400);
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello").status,
            400);
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n").status, 400);
}

TEST_F(ServerTest, TransferCodingsOtherThanChunkedAreRefused) {
  start();
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n").status,
            400);
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                    "0\r\n\r\n")
                .status,
            501);
}

TEST_F(ServerTest, MalformedFramingIs400) {
  start();
  EXPECT_EQ(refused("GET /hello HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n folded\r\n\r\n").status, 400);
  EXPECT_EQ(refused("GET /hello HTTP/1.1\nHost: t\n\n").status, 400);
  EXPECT_EQ(refused("GET /hello HTTP/1.1\r\nHost: t\nX-A: 1\r\n\r\n").status, 400);
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "zz\r\nhello\r\n0\r\n\r\n")
                .status,
            400);
  EXPECT_EQ(refused("GET /hello HTTP/1.1\r\n\r\n").status, 400);  // no Host
  EXPECT_EQ(refused("GET /hello HTTP/1.1\r\nBad Name: x\r\nHost: t\r\n\r\n").status, 400);
  EXPECT_EQ(refused("GET /a b HTTP/1.1\r\nHost: t\r\n\r\n").status, 400);
  EXPECT_EQ(refused("GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n").status, 400);
  EXPECT_EQ(
      refused(std::string("GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a") + '\0' + "b\r\n\r\n").status,
      400);
}

TEST_F(ServerTest, VersionsOtherThanHttp1AreRefusedWith505) {
  start();
  EXPECT_EQ(refused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").status, 505);  // the HTTP/2 preface
  EXPECT_EQ(refused("GET /hello HTTP/2.0\r\nHost: t\r\n\r\n").status, 505);
  EXPECT_EQ(refused("GET /hello HTTP/3.0\r\nHost: t\r\n\r\n").status, 505);
  EXPECT_EQ(refused("GET /hello HTTP/9\r\nHost: t\r\n\r\n").status, 400);  // not a version
}

TEST_F(ServerTest, TransferEncodingInHttp10Is400) {
  start();
  // RFC 9112 6.1: HTTP/1.0 has no transfer codings, so its framing is faulty.
  EXPECT_EQ(refused("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n0\r\n\r\n")
                .status,
            400);
}

TEST_F(ServerTest, ChunkedTwiceIs400) {
  start();
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
                    "5\r\nhello\r\n0\r\n\r\n")
                .status,
            400);
}

TEST_F(ServerTest, BareLfInAChunkedBodyIsRefusedAtOnce) {
  // Beast would wait for a CRLF that never comes, until the body timeout.
  start({.body_timeout = 60s});
  for (const char* body :
       {"5\nhello\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n", "5\r\nhello\r\n0\r\nX-T: 1\n\r\n"}) {
    EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                      std::string(body))
                  .status,
              400)
        << body;
  }
}

TEST_F(ServerTest, ChunkExtensionsAreBoundedPerRequest) {
  start();
  // Each line is short; together they pass the cap while the body stays tiny.
  std::string chunks;
  for (int i = 0; i < 100; ++i) chunks += "1;" + std::string(100, 'e') + "\r\nx\r\n";
  EXPECT_EQ(refused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    chunks + "0\r\n\r\n")
                .status,
            400);
  // A few short ones pass: ChunkedRequestBodyIsDelivered.
}

TEST_F(ServerTest, ConnectionThatSendsNothingIsClosedAtTheHeaderTimeout) {
  start({.header_timeout = 200ms});
  TestClient silent = connect();
  ASSERT_TRUE(eventually([this] { return server_->open_connections() == 1; }));
  const auto connected = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.closed_by_server());
  // Not the idle timeout (60 s): a connection must start its request at once.
  EXPECT_LT(std::chrono::steady_clock::now() - connected, TestClient::kDeadline);
  EXPECT_TRUE(eventually([this] { return server_->open_connections() == 0; }));
}

TEST_F(ServerTest, StreamedResponseDeliversChunksAndKeepsTheConnection) {
  start();
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto stream = client.read_response();
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->status, 200);
  EXPECT_EQ(stream->header("Content-Type"), "text/event-stream");
  EXPECT_EQ(stream->header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(stream->chunks,
            (std::vector<std::string>{"data: 0\n\n", "data: 1\n\n", "data: 2\n\n"}));
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, kHello);
}

TEST_F(ServerTest, CloseAllEndsAStreamThatNeverEnds) {
  start();
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /forever HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(client.read_until("data: tick\n\n"));
  server_->close_all();
  EXPECT_TRUE(client.closed_by_server());
  // TearDown joins the io threads: it hangs if the stream coroutine does not end.
}

TEST_F(ServerTest, HandlerExceptionIs500AndTheConnectionSurvives) {
  start();
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /throw HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->header("Content-Type"), "application/problem+json");
  EXPECT_EQ(response->body.find("on purpose"), std::string::npos);  // internals stay in the log
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

TEST_F(ServerTest, ConnectionsOverTheCapGet503AndAreClosed) {
  start({.max_connections = 2});
  std::vector<std::unique_ptr<TestClient>> admitted;
  for (int i = 0; i < 2; ++i) {
    admitted.push_back(std::make_unique<TestClient>(server_->port()));
    ASSERT_TRUE(admitted.back()->send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(admitted.back()->read_response());  // so the server has registered it
  }
  TestClient extra = connect();
  const auto response = extra.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->header("Retry-After"), "1");
  EXPECT_EQ(response->header("Content-Type"), "application/problem+json");
  EXPECT_TRUE(extra.closed_by_server());
  EXPECT_EQ(server_->open_connections(), 2u);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  start({.idle_timeout = 200ms});
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(client.read_response());
  const auto answered = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_GE(std::chrono::steady_clock::now() - answered, 150ms);
}

TEST_F(ServerTest, IncompleteHeaderIsCutAtTheHeaderTimeout) {
  start({.header_timeout = 200ms});
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: t\r\n"));
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(ServerTest, ShutdownClosesIdleConnectionsAndLetsRequestsFinish) {
  start();
  TestClient idle = connect();
  ASSERT_TRUE(idle.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(idle.read_response());
  TestClient busy = connect();
  const int started = slow_started;
  ASSERT_TRUE(busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto deadline = std::chrono::steady_clock::now() + TestClient::kDeadline;
  while (slow_started == started && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_NE(slow_started, started);

  auto done = net::co_spawn(io_, server_->shutdown(10s), net::use_future);
  EXPECT_TRUE(idle.closed_by_server());
  const auto response = busy.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("Connection"), "close");
  EXPECT_TRUE(busy.closed_by_server());
  busy.close();  // else the server lingers, waiting for the client to close
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(server_->open_connections(), 0u);
  EXPECT_FALSE(TestClient(server_->port()).connected());
}

TEST_F(ServerTest, HandlerWaitingForItsClientIsWokenWhenTheClientCloses) {
  start();
  probe.reset();
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /wait-for-close HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(eventually([] { return probe.waiting == 1; }));
  client.close();
  // The handler waits for 10 s unless the watch wakes it.
  ASSERT_TRUE(eventually([] { return probe.gone + probe.present == 1; }));
  EXPECT_EQ(probe.gone, 1);
  EXPECT_EQ(probe.woken, 1);
  EXPECT_TRUE(eventually([this] { return server_->open_connections() == 0; }));
}

TEST_F(ServerTest, ClientThatLeftBeforeTheFirstCheckIsSeenAtOnce) {
  start();
  probe.reset();
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /check-late HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(eventually([] { return probe.waiting == 1; }));
  client.close();
  probe.proceed = true;
  ASSERT_TRUE(eventually([] { return probe.gone + probe.present == 1; }));
  EXPECT_EQ(probe.gone, 1);
}

TEST_F(ServerTest, PipelinedRequestSentWhileAHandlerWatchesIsLeftIntact) {
  start();
  probe.reset();
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /watch-awhile HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(eventually([] { return probe.waiting == 1; }));
  // Arrives while the first request's handler watches the socket.
  ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nsecond"));
  probe.proceed = true;
  const auto first = client.read_response();
  const auto second = client.read_response();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "present");
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, "second");
  EXPECT_EQ(second->header("X-Method"), "POST");  // not one byte of it was consumed
  EXPECT_EQ(probe.present, 1);
  EXPECT_EQ(probe.woken, 0);
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto third = client.read_response();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->body, kHello);
}

TEST_F(ServerTest, ClientThatPipelinedAndHalfClosedIsNotGone) {
  start();
  probe.reset();
  probe.proceed = true;
  TestClient client = connect();
  ASSERT_TRUE(
      client.send("GET /watch-awhile HTTP/1.1\r\nHost: t\r\n\r\n"
                  "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  client.shutdown_send();  // done sending, still reading: it wants both answers
  const auto first = client.read_response();
  const auto second = client.read_response();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body, "present");
  EXPECT_EQ(second->body, kHello);
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(ServerTest, ConnectionIsReusableAfterAWatchedRequest) {
  start();
  probe.reset();
  probe.proceed = true;
  TestClient client = connect();
  for (int i = 0; i < 3; ++i) {
    // Each answer ends a watch that is still waiting: the next read must get the socket back.
    ASSERT_TRUE(client.send("GET /watch-awhile HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto watched = client.read_response();
    ASSERT_TRUE(watched);
    EXPECT_EQ(watched->body, "present");
    ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nnext"));
    const auto next = client.read_response();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->body, "next");
  }
  EXPECT_EQ(probe.present, 3);
  EXPECT_EQ(probe.woken, 0);
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(ServerTest, IdleStreamEndsWhenTheClientCloses) {
  start();
  probe.reset();
  TestClient client = connect();
  ASSERT_TRUE(client.send("GET /idle-stream HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(client.read_until("data: hello\n\n"));
  ASSERT_TRUE(eventually([] { return probe.waiting == 1; }));
  client.close();
  ASSERT_TRUE(eventually([] { return probe.gone + probe.present == 1; }));
  EXPECT_EQ(probe.gone, 1);
  EXPECT_EQ(probe.woken, 1);
  EXPECT_TRUE(eventually([this] { return server_->open_connections() == 0; }));
  EXPECT_EQ(probe.present, 0);  // the write after the client left was refused
}

TEST(ServerListen, AcceptsTheDocumentedAddressForms) {
  net::io_context io;
  for (const char* address : {"127.0.0.1:0", "localhost:0", ":0"}) {
    Server server(io, route);
    EXPECT_EQ(server.listen(address), std::nullopt) << address;
    EXPECT_NE(server.port(), 0) << address;
  }
}

TEST(ServerListen, RefusesMalformedAddressesAndBusyPorts) {
  net::io_context io;
  Server first(io, route);
  ASSERT_EQ(first.listen("127.0.0.1:0"), std::nullopt);
  for (const std::string address :
       {"7400", "127.0.0.1", "127.0.0.1:99999", "[::1", "example.com:80", "1.2.3:x"}) {
    Server server(io, route);
    EXPECT_NE(server.listen(address), std::nullopt) << address;
  }
  Server second(io, route);
  const auto error = second.listen("127.0.0.1:" + std::to_string(first.port()));
  ASSERT_NE(error, std::nullopt);
  EXPECT_NE(error->find("in use"), std::string::npos) << *error;
}

}  // namespace
}  // namespace errand::http
