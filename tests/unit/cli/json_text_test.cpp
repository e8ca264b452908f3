#include "cli/json_text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace errand::cli {
namespace {

std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonText, AcceptsAnyJsonValueWithSurroundingWhitespace) {
  for (const char* ok :
       {"{}", "[1,2]", "\"text\"", "42", "-1.5e3", "true", "null", " \n{\"a\":1}\n"}) {
    EXPECT_FALSE(json_error(ok)) << ok;
  }
}

TEST(JsonText, RejectsWhatIsNotOneJsonValue) {
  for (const char* bad : {"", "hello", "{a:1}", "{\"a\":1", "1 2", "'x'", "{}}"}) {
    EXPECT_TRUE(json_error(bad)) << bad;
  }
}

TEST(JsonText, DepthLimitMatchesTheServer) {
  EXPECT_FALSE(json_error(nested_arrays(kMaxJsonDepth)));
  EXPECT_TRUE(json_error(nested_arrays(kMaxJsonDepth + 1)));
}

TEST(JsonText, RejectsInvalidUtf8InStrings) { EXPECT_TRUE(json_error("\"\xFF\"")); }

TEST(JsonText, TrimsJsonWhitespaceOnly) {
  EXPECT_EQ(trim_json_whitespace(" \t\r\n{}\n "), "{}");
  EXPECT_EQ(trim_json_whitespace("   "), "");
}

TEST(JsonText, QuotesAndEscapes) {
  EXPECT_EQ(quote_json("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  EXPECT_EQ(quote_json("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
}

TEST(JsonText, QuoteReplacesInvalidUtf8) { EXPECT_EQ(quote_json("a\xFF"), "\"a\xEF\xBF\xBD\""); }

TEST(JsonText, ValidUtf8ReplacesEachBadByte) {
  EXPECT_EQ(valid_utf8("ok"), "ok");
  EXPECT_EQ(valid_utf8("\xC3\xA9"), "\xC3\xA9");
  EXPECT_EQ(valid_utf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");                  // 4-byte emoji
  EXPECT_EQ(valid_utf8("\xC3"), "\xEF\xBF\xBD");                                  // truncated
  EXPECT_EQ(valid_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

TEST(JsonText, Utf8PrefixNeverEndsInsideACharacter) {
  EXPECT_EQ(utf8_prefix("abc", 5), "abc");
  EXPECT_EQ(utf8_prefix("ab\xC3\xA9", 3), "ab");
  EXPECT_EQ(utf8_prefix("ab\xC3\xA9", 4), "ab\xC3\xA9");
}

TEST(JsonText, ProblemDetailPrefersDetailThenTitle) {
  EXPECT_EQ(problem_detail(
                R"({"type":"about:blank","title":"Not Found","status":404,"detail":"no job x"})"),
            "no job x");
  EXPECT_EQ(problem_detail(R"({"title":"Conflict","status":409})"), "Conflict");
  EXPECT_FALSE(problem_detail("<html>"));
  EXPECT_FALSE(problem_detail("[]"));
}

}  // namespace
}  // namespace errand::cli
