// errand::Client and errand::Worker against a server with tokens
// (docs/security.md): the token goes out as a Bearer header, a missing or
// wrong one is an HTTP 401 error, a token without the role or the queue a
// 403, neither is worth retrying, and a Worker stops on them.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>
#include <string_view>

#include "errand/client.hpp"
#include "errand/worker.hpp"
#include "server_process.hpp"

namespace errand {
namespace {

using client_testing::ServerProcess;
using client_testing::TempDir;

constexpr const char* kAdminSecret = "admin-secret-for-client-tests";
constexpr const char* kSubmitSecret = "submit-secret-for-client-tests";

std::string write_config(const TempDir& dir) {
  const std::string path = dir.path() + "/errand.toml";
  std::ofstream(path) << "[[tokens]]\nname = \"ops\"\nsecret = \"" << kAdminSecret
                      << "\"\nroles = [\"admin\"]\n\n"
                      << "[[tokens]]\nname = \"checkout\"\nsecret = \"" << kSubmitSecret
                      << "\"\nroles = [\"submit\"]\nqueues = [\"orders\"]\n";
  return path;
}

// The errand::Error that `call` throws (a failure when it throws none).
Error error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "the call succeeded";
  return Error(Error::Kind::kUsage, 0, "none");
}

class AuthTest : public ::testing::Test {
 protected:
  [[nodiscard]] ClientOptions options(std::string token) const {
    ClientOptions o;
    o.server = server_.url();
    o.token = std::move(token);
    return o;
  }
  [[nodiscard]] Client client(std::string token) const { return Client(options(std::move(token))); }

  TempDir config_dir_;
  ServerProcess server_{{"--config", write_config(config_dir_)}};
};

TEST_F(AuthTest, WithoutATokenACallIsA401ThatNoRetryCures) {
  Client anonymous = client("");
  const Error e = error_of([&] { anonymous.submit("orders", "{}"); });
  EXPECT_EQ(e.kind(), Error::Kind::kHttp);
  EXPECT_EQ(e.status(), 401);
  EXPECT_FALSE(e.retryable());
  EXPECT_NE(e.body().find("Bearer"), std::string::npos) << e.body();
}

TEST_F(AuthTest, AWrongTokenIsA401) {
  Client wrong = client("not-the-secret");
  const Error e = error_of([&] { wrong.queues(); });
  EXPECT_EQ(e.status(), 401);
  EXPECT_EQ(e.body().find("not-the-secret"), std::string::npos) << "the body echoes the token";
}

TEST_F(AuthTest, TheRightTokenIsSentAndAccepted) {
  Client checkout = client(kSubmitSecret);
  const Job job = checkout.submit("orders", R"({"order":1})");
  EXPECT_EQ(checkout.get(job.id).id, job.id);
  const auto queues = client(kAdminSecret).queues();
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_EQ(queues.front().name, "orders");
}

TEST_F(AuthTest, ATokenWithoutTheRoleOrTheQueueIsA403NamingIt) {
  Client checkout = client(kSubmitSecret);
  const Error role = error_of([&] { checkout.queues(); });
  EXPECT_EQ(role.status(), 403);
  EXPECT_FALSE(role.retryable());
  EXPECT_NE(role.body().find("admin"), std::string::npos) << role.body();
  const Error queue = error_of([&] { checkout.submit("payments", "{}"); });
  EXPECT_EQ(queue.status(), 403);
  EXPECT_NE(queue.body().find("payments"), std::string::npos) << queue.body();
  EXPECT_EQ(queue.body().find(kSubmitSecret), std::string::npos) << "the body holds the secret";
  EXPECT_TRUE(client(kAdminSecret).queues().empty()) << "a refused submit stored a job";
}

TEST_F(AuthTest, AWorkerStopsWithTheErrorWhenItsTokenIsRefused) {
  for (const char* token : {"not-the-secret", kSubmitSecret}) {
    WorkerOptions wo;
    wo.client = options(token);
    wo.queues = {"orders"};
    wo.poll_wait_seconds = 1;
    wo.log = [](std::string_view) {};
    Worker worker(wo, [](JobContext&) { return std::string("null"); });
    const Error e = error_of([&] { worker.run(); });
    EXPECT_EQ(e.status(), std::string_view(token) == kSubmitSecret ? 403 : 401) << token;
  }
}

}  // namespace
}  // namespace errand
