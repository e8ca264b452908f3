// The HTTP server over TLS: requests, streams and clients that leave behave
// as over TCP; the handshake is bounded by the header timeout; old protocols,
// plain HTTP and bad certificate files are refused.
#include "test_certificate.hpp"
#include "test_server.hpp"
#include "tls_test_client.hpp"

#include <openssl/ssl.h>

namespace errand::http {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the fixture and its routes

class TlsServerTest : public ServerTest {
 protected:
  void start_tls(ServerLimits limits = {}) {
    std::string error;
    auto tls =
        load_tls_context({.cert_file = cert_.cert_file(), .key_file = cert_.key_file()}, error);
    ASSERT_TRUE(tls) << error;
    start(limits, std::move(tls));
  }

  std::unique_ptr<TlsTestClient> connect_tls() {
    auto client = std::make_unique<TlsTestClient>(server_->port(), client_context_);
    EXPECT_FALSE(client->handshake_error()) << client->handshake_error().message();
    return client;
  }

  TestCertificate cert_;
  net::ssl::context client_context_ = client_context(cert_.cert_pem());
};

TEST_F(TlsServerTest, RequestsShareOneKeepAliveConnection) {
  start_tls();
  auto client = connect_tls();
  ASSERT_TRUE(client->send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto first = client->read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, kHello);
  ASSERT_TRUE(client->send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
  const auto second = client->read_response();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body, "hello");
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(TlsServerTest, StreamedResponseDeliversItsChunks) {
  start_tls();
  auto client = connect_tls();
  ASSERT_TRUE(client->send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto stream = client->read_response();
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->chunks,
            (std::vector<std::string>{"data: 0\n\n", "data: 1\n\n", "data: 2\n\n"}));
}

TEST_F(TlsServerTest, RefusedRequestGetsItsProblemBeforeTheClose) {
  start_tls({.max_header_bytes = 4096});
  auto client = connect_tls();
  ASSERT_TRUE(client->send("GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(8192, 'a') +
                           "\r\n\r\n"));
  const auto response = client->read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
  EXPECT_EQ(response->header("Content-Type"), "application/problem+json");
  EXPECT_TRUE(client->closed_by_server());
}

TEST_F(TlsServerTest, HandlerIsWokenWhenTheClientLeavesWithOrWithoutCloseNotify) {
  start_tls();
  for (const bool polite : {true, false}) {
    probe.reset();
    auto client = connect_tls();
    ASSERT_TRUE(client->send("GET /wait-for-close HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(eventually([] { return probe.waiting == 1; }));
    if (polite) {
      client->close_notify();
    } else {
      client->close();  // no close_notify: a client that crashed
    }
    ASSERT_TRUE(eventually([] { return probe.gone + probe.present == 1; })) << polite;
    EXPECT_EQ(probe.gone, 1) << polite;
    EXPECT_EQ(probe.woken, 1) << polite;
    EXPECT_TRUE(eventually([this] { return server_->open_connections() == 0; })) << polite;
  }
}

TEST_F(TlsServerTest, PipelinedRequestSentWhileAHandlerWatchesIsLeftIntact) {
  start_tls();
  probe.reset();
  auto client = connect_tls();
  ASSERT_TRUE(client->send("GET /watch-awhile HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(eventually([] { return probe.waiting == 1; }));
  // Read by the watch through TLS: it must reach the next read_request whole.
  ASSERT_TRUE(client->send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nsecond"));
  probe.proceed = true;
  const auto first = client->read_response();
  const auto second = client->read_response();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body, "present");
  EXPECT_EQ(second->body, "second");
  EXPECT_EQ(second->header("X-Method"), "POST");
  EXPECT_EQ(probe.woken, 0);
}

TEST_F(TlsServerTest, ConnectionIsReusableAfterAWatchedRequest) {
  start_tls();
  probe.reset();
  probe.proceed = true;
  auto client = connect_tls();
  for (int i = 0; i < 3; ++i) {
    // Each answer cancels a TLS read still pending: the next request must still be read whole.
    ASSERT_TRUE(client->send("GET /watch-awhile HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto watched = client->read_response();
    ASSERT_TRUE(watched);
    EXPECT_EQ(watched->body, "present");
    ASSERT_TRUE(client->send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nnext"));
    const auto next = client->read_response();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->body, "next");
  }
  EXPECT_EQ(probe.present, 3);
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(TlsServerTest, IdleStreamEndsWhenTheClientCloses) {
  start_tls();
  probe.reset();
  auto client = connect_tls();
  ASSERT_TRUE(client->send("GET /idle-stream HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(client->read_until("data: hello\n\n"));
  ASSERT_TRUE(eventually([] { return probe.waiting == 1; }));
  client->close_notify();
  ASSERT_TRUE(eventually([] { return probe.gone + probe.present == 1; }));
  EXPECT_EQ(probe.gone, 1);
  EXPECT_TRUE(eventually([this] { return server_->open_connections() == 0; }));
  EXPECT_EQ(probe.present, 0);
}

TEST_F(TlsServerTest, ClientThatNeverHandshakesIsClosedAtTheHeaderTimeout) {
  start_tls({.header_timeout = 200ms});
  TestClient silent = connect();
  ASSERT_TRUE(silent.connected());
  ASSERT_TRUE(eventually([this] { return server_->open_connections() == 1; }));
  EXPECT_TRUE(silent.closed_by_server());
  EXPECT_TRUE(eventually([this] { return server_->open_connections() == 0; }));
}

TEST_F(TlsServerTest, PlainHttpIsClosedWithoutAnAnswerAndTheServerGoesOn) {
  start_tls();
  TestClient plain = connect();
  ASSERT_TRUE(plain.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_FALSE(plain.read_response());  // no HTTP answer, and the connection ends
  auto client = connect_tls();
  ASSERT_TRUE(client->send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto response = client->read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

TEST_F(TlsServerTest, Tls11IsRefusedAndTls12And13AreAccepted) {
  start_tls();
  // Security level 0 lets the client offer TLS 1.1 at all (OpenSSL 3 would not).
  auto old = client_context(cert_.cert_pem(), TLS1_1_VERSION, TLS1_1_VERSION);
  SSL_CTX_set_security_level(old.native_handle(), 0);
  TlsTestClient refused(server_->port(), old);
  EXPECT_TRUE(refused.handshake_error());
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    auto context = client_context(cert_.cert_pem(), version, version);
    TlsTestClient client(server_->port(), context);
    EXPECT_FALSE(client.handshake_error()) << version << ": " << client.handshake_error().message();
  }
}

TEST_F(TlsServerTest, ConnectionsOverTheCapAreClosedWithoutAHandshake) {
  start_tls({.max_connections = 1});
  auto admitted = connect_tls();
  ASSERT_TRUE(admitted->send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(admitted->read_response());
  TlsTestClient extra(server_->port(), client_context_);
  EXPECT_TRUE(extra.handshake_error());
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST(TlsContext, NamesTheFileAndTheReasonOfEachFailure) {
  const TestCertificate cert;
  const auto error_for = [](const std::string& cert_file, const std::string& key_file) {
    std::string error;
    EXPECT_EQ(load_tls_context({.cert_file = cert_file, .key_file = key_file}, error), nullptr);
    return error;
  };
  const std::string missing = cert.cert_file() + ".missing";
  EXPECT_EQ(error_for(missing, cert.key_file()),
            missing + ": cannot read the certificate: No such file or directory");
  const std::string garbage = cert.write_file("garbage.pem", "not a certificate\n");
  EXPECT_EQ(error_for(garbage, cert.key_file()).rfind(garbage + ": not a PEM certificate", 0), 0u);
  EXPECT_EQ(error_for(cert.cert_file(), cert.other_key_file()),
            cert.other_key_file() + ": the private key does not match the certificate in " +
                cert.cert_file());
  EXPECT_EQ(error_for(cert.cert_file(), garbage).rfind(garbage + ": not an unencrypted PEM", 0),
            0u);
  std::string error;
  EXPECT_NE(load_tls_context({.cert_file = cert.cert_file(), .key_file = cert.key_file()}, error),
            nullptr)
      << error;
}

}  // namespace
}  // namespace errand::http
