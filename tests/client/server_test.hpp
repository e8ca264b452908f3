// ServerTest: a fixture for the tests that speak to a real server through a
// Client (client_test, flow_test).
#pragma once

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "errand/client.hpp"
#include "server_process.hpp"

namespace errand::client_testing {

class ServerTest : public ::testing::Test {
 protected:
  [[nodiscard]] ClientOptions options() const {
    ClientOptions o;
    o.server = server_.url();
    return o;
  }

  // Leases the one job waiting on `queue` (waiting for it up to 10 s).
  LeasedJob lease_one(const std::string& queue) {
    LeaseRequest r;
    r.queues = {queue};
    r.worker = "test-worker";
    r.wait_seconds = 10;
    auto jobs = client_.lease(r);
    if (jobs.size() != 1) throw std::runtime_error("expected one leased job on " + queue);
    return jobs.front();
  }

  ServerProcess server_;
  Client client_{options()};
};

}  // namespace errand::client_testing
