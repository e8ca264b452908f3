#include "core/listen_address.hpp"

#include <gtest/gtest.h>

namespace errand {
namespace {

TEST(ListenAddress, LoopbackAddressesStayOnThisMachine) {
  for (const char* address :
       {"127.0.0.1:7400", "127.0.0.1:0", "127.1.2.3:80", "[::1]:7400", "::1:7400", "localhost:7400",
        "LocalHost:1", "[::ffff:127.0.0.1]:9"}) {
    EXPECT_TRUE(is_loopback_listen_address(address)) << address;
  }
}

TEST(ListenAddress, EveryOtherAddressIsNot) {
  for (const char* address :
       {":7400", ":0", "0.0.0.0:7400", "[::]:7400", "10.0.0.5:7400", "192.168.1.2:0",
        "[::ffff:10.0.0.1]:9", "example.com:7400", "localhost.example.com:1", "128.0.0.1:1",
        "[::1:7400", "", "1.127.0.0:1"}) {
    EXPECT_FALSE(is_loopback_listen_address(address)) << address;
  }
}

}  // namespace
}  // namespace errand
