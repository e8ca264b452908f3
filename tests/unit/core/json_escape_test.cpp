// JSON strings written by hand must be what a JSON parser reads back.
#include "core/json_escape.hpp"

#include <gtest/gtest.h>

namespace errand {
namespace {

std::string appended(std::string_view s) {
  std::string out = "prefix:";
  append_json_string(out, s);
  return out;
}

TEST(JsonEscape, PlainTextIsOnlyQuotedAndAppended) {
  EXPECT_EQ(appended(""), R"(prefix:"")");
  EXPECT_EQ(appended("orders.eu-1"), R"(prefix:"orders.eu-1")");
  EXPECT_EQ(appended("détail ✓ /"), "prefix:\"détail ✓ /\"");  // UTF-8 and '/' pass unchanged
}

TEST(JsonEscape, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(appended("say \"hi\"\\"), R"(prefix:"say \"hi\"\\")");
  EXPECT_EQ(appended("a\nb\tc\rd\be\ff"), R"(prefix:"a\nb\tc\rd\be\ff")");
  EXPECT_EQ(appended(std::string_view("\0\x01\x1f\x7f", 4)),
            "prefix:\"\\u0000\\u0001\\u001f\x7f\"");
}

TEST(JsonEscape, EveryByteBelowSpaceIsEscaped) {
  for (int c = 0; c < 0x20; ++c) {
    const std::string out = appended(std::string(1, static_cast<char>(c)));
    EXPECT_EQ(
        out.find_first_of(std::string_view("\0\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"
                                           "\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17"
                                           "\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f",
                                           32)),
        std::string::npos)
        << c;
  }
}

}  // namespace
}  // namespace errand
