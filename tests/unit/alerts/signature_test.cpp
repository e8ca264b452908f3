#include "alerts/signature.hpp"

#include <gtest/gtest.h>

namespace errand::alerts {
namespace {

TEST(Signature, IsHexHmacSha256OfTheBody) {
  // RFC 4231, test case 2.
  EXPECT_EQ(sign_body("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Signature, DependsOnSecretAndBody) {
  EXPECT_NE(sign_body("a", "{}"), sign_body("b", "{}"));
  EXPECT_NE(sign_body("a", "{}"), sign_body("a", "{ }"));
}

}  // namespace
}  // namespace errand::alerts
