#include "core/fingerprint.hpp"

#include <gtest/gtest.h>

#include <string>

namespace errand {
namespace {

// Persisted values: a change here breaks idempotency checks across upgrades.
TEST(Fingerprint, MatchesTheFnv1a64ReferenceVectors) {
  EXPECT_EQ(fingerprint(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fingerprint("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fingerprint("foobar"), 0x85944171f73967e8ull);
}

TEST(Fingerprint, IsUsableAtCompileTime) {
  static_assert(fingerprint("a") == 0xaf63dc4c8601ec8cull);
  SUCCEED();
}

TEST(Fingerprint, TellsPayloadsThatDifferInOneByteApart) {
  EXPECT_NE(fingerprint(R"({"n":1})"), fingerprint(R"({"n":2})"));
  EXPECT_NE(fingerprint(R"({"n":1})"), fingerprint(R"({"n":1} )"));
}

TEST(Fingerprint, HashesBytesAboveAsciiAsUnsigned) {
  // Treating char as signed would change every non-ASCII fingerprint.
  EXPECT_EQ(fingerprint("\xff"), (0xcbf29ce484222325ull ^ 0xffull) * 1099511628211ull);
}

TEST(Fingerprint, IncludesEmbeddedNulBytes) {
  EXPECT_NE(fingerprint(std::string_view("a\0b", 3)), fingerprint("ab"));
}

}  // namespace
}  // namespace errand
