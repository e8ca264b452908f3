// Disk faults seen over HTTP (SPEC §2.4, §5): the real API and HTTP server,
// in process, over the real embedded store on a FaultyFileSystem. While the
// disk is full, writes answer 507 and while it fails 503, both with
// Retry-After; reads answer 200; /readyz answers 503 and /metrics says so;
// once the disk works again /readyz is 200 and writes succeed, with no
// restart. Each episode is logged once, and whatever was acknowledged is
// still there after a restart while nothing refused is.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <set>
#include <thread>

#include "api/api.hpp"
#include "api/http/server.hpp"
#include "broker_conformance.hpp"
#include "fault_test_support.hpp"
#include "faulty_file_system.hpp"
#include "metrics/server_metrics.hpp"
#include "store/embedded/embedded_broker.hpp"
#include "test_client.hpp"

namespace errand::testing {
namespace {

namespace net = boost::asio;
using http::testing::TestClient;
using http::testing::TestResponse;

constexpr std::string_view kQueue = "http-disk";

class DiskFaultHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<FaultyFileSystem>();
    broker_ = conformance::must(embedded::open_embedded_broker(options(fs_)), "open");
    metrics_ = std::make_unique<metrics::ServerMetrics>(*broker_);
    api_ = std::make_unique<api::Api>(*broker_, *metrics_, api::ApiOptions{});
    server_ = std::make_unique<http::Server>(
        io_, [this](http::Request& req) { return api_->handle(req); });
    ASSERT_EQ(server_->listen("127.0.0.1:0"), std::nullopt);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void TearDown() override { stop_server(); }

  void stop_server() {
    server_.reset();
    work_.reset();
    for (auto& t : threads_) t.join();
    threads_.clear();
    api_.reset();
    metrics_.reset();
    broker_.reset();
  }

  embedded::EmbeddedOptions options(std::shared_ptr<rocksdb::FileSystem> fs) const {
    return store_options(dir_, std::move(fs), /*retry_ms=*/20);
  }

  TestResponse call(std::string_view method, const std::string& target,
                    const std::string& body = {}) {
    TestClient client(server_->port());
    std::string raw = std::string(method) + " " + target + " HTTP/1.1\r\nHost: t\r\n";
    if (!body.empty()) {
      raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    raw += "\r\n" + body;
    EXPECT_TRUE(client.send(raw));
    auto response = client.read_response(method == "HEAD");
    EXPECT_TRUE(response.has_value()) << method << " " << target << ": no answer";
    return response.value_or(TestResponse{});
  }

  // Submits a job; on 2xx its id goes to accepted_, else its payload to refused_.
  TestResponse submit(int n) {
    const std::string payload = R"({"n":)" + std::to_string(n) + "}";
    auto r = call("POST", "/v1/queues/" + std::string(kQueue) + "/jobs",
                  R"({"payload":)" + payload + "}");
    if (r.status / 100 == 2) {
      accepted_.insert(std::string(boost::json::parse(r.body).at("id").as_string()));
    } else {
      refused_.insert(payload);
    }
    return r;
  }

  // A problem+json answer with `status` and Retry-After.
  void expect_retryable_problem(const TestResponse& r, int status, std::string_view what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << what;
    EXPECT_FALSE(r.header("Retry-After").empty()) << what << " has no Retry-After";
  }

  void expect_reads_work(const std::string& id) {
    EXPECT_EQ(call("GET", "/v1/jobs/" + id).status, 200);
    EXPECT_EQ(call("GET", "/v1/jobs?queue=" + std::string(kQueue)).status, 200);
    EXPECT_EQ(call("GET", "/v1/queues").status, 200);
    EXPECT_EQ(call("GET", "/v1/queues/" + std::string(kQueue)).status, 200);
    EXPECT_EQ(call("GET", "/healthz").status, 200);
  }

  std::string metric_line(std::string_view name) {
    const auto r = call("GET", "/metrics");
    EXPECT_EQ(r.status, 200);
    const auto at = r.body.find("\n" + std::string(name) + " ");
    if (at == std::string::npos) return "(" + std::string(name) + " missing)";
    return r.body.substr(at + 1, r.body.find('\n', at + 1) - at - 1);
  }

  // One episode: `fault` until the store has failed to write again a few
  // times, answered with `status`; then the disk is fixed.
  void episode(FaultyFileSystem::Fault fault, int status, int& n) {
    const std::string id =
        std::string(boost::json::parse(submit(n++).body).at("id").as_string());  // before: accepted
    fs_->inject(fault);
    expect_retryable_problem(submit(n++), status, "the write that met the fault");
    expect_retryable_problem(submit(n++), status, "a write while the disk fails");
    expect_retryable_problem(
        call("POST", "/v1/leases", R"({"queues":[")" + std::string(kQueue) + R"("],"worker":"w"})"),
        status, "a lease while the disk fails");
    expect_reads_work(id);
    expect_retryable_problem(call("GET", "/readyz"), 503, "/readyz while the disk fails");
    EXPECT_EQ(metric_line("errand_store_writable"), "errand_store_writable 0");
    const auto hits = fs_->faults_hit();
    EXPECT_TRUE(eventually([&] { return fs_->faults_hit() >= hits + 2; }))
        << "the store does not try to write again";
    expect_retryable_problem(submit(n++), status, "a write while the disk still fails");
    EXPECT_EQ(call("GET", "/readyz").status, 503);

    fs_->clear();
    EXPECT_TRUE(eventually([&] { return call("GET", "/readyz").status == 200; }))
        << "/readyz stayed unhealthy after the disk was fixed";
    EXPECT_EQ(submit(n++).status, 202);
    EXPECT_EQ(metric_line("errand_store_writable"), "errand_store_writable 1");
  }

  ScratchDir dir_;
  CapturedLog log_;
  std::shared_ptr<FaultyFileSystem> fs_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<metrics::ServerMetrics> metrics_;
  std::unique_ptr<api::Api> api_;
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<http::Server> server_;
  std::vector<std::thread> threads_;
  std::set<std::string> accepted_;  // ids
  std::set<std::string> refused_;   // payloads
};

TEST_F(DiskFaultHttpTest, FullThenFailingDiskAnswers507Then503AndRecoversWithoutARestart) {
  int n = 0;
  EXPECT_EQ(call("GET", "/readyz").status, 200);
  EXPECT_EQ(submit(n++).status, 202);

  FaultyFileSystem::Fault full;
  full.error = FaultyFileSystem::Error::kNoSpace;
  full.op = FaultyFileSystem::Op::kWrite;
  episode(full, 507, n);

  FaultyFileSystem::Fault failing;
  failing.error = FaultyFileSystem::Error::kIo;
  failing.op = FaultyFileSystem::Op::kSync;
  failing.files = FaultyFileSystem::Files::kWal;
  episode(failing, 503, n);

  EXPECT_EQ(metric_line("errand_store_write_errors_total"), "errand_store_write_errors_total 2");
  // Once per episode, not once per request.
  EXPECT_EQ(log_.count("error", "the store cannot write"), 2);
  EXPECT_EQ(log_.count("info", "the store writes again"), 2);
  EXPECT_EQ(log_.count("error", "request failed"), 0);

  // After a restart: every 2xx is there, nothing that was refused.
  stop_server();
  auto broker = conformance::must(embedded::open_embedded_broker(options(nullptr)), "reopen");
  ListSpec spec;
  spec.queue = std::string(kQueue);
  spec.limit = 1000;
  const auto page = conformance::must(
      conformance::await_result<JobPage>([&](auto done) { broker->list(spec, std::move(done)); }),
      "list");
  std::set<std::string> ids;
  for (const auto& v : page.jobs) {
    ids.insert(v.record.id.to_string());
    EXPECT_FALSE(refused_.count(v.payload_json)) << v.payload_json << " was refused, yet stored";
  }
  for (const auto& id : accepted_) EXPECT_TRUE(ids.count(id)) << id << " was accepted, now gone";
  EXPECT_EQ(ids.size(), accepted_.size());
}

}  // namespace
}  // namespace errand::testing
