#include "api/http/head_scanner.hpp"

#include <gtest/gtest.h>

#include <string>

namespace errand::http {
namespace {

using State = HeadScanner::State;

TEST(HeadScanner, FindsTheEndOfAHead) {
  HeadScanner scanner;
  const std::string head = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  const auto result = scanner.scan(head + "body");
  EXPECT_EQ(result.state, State::kComplete);
  EXPECT_EQ(result.head_size, head.size());
}

TEST(HeadScanner, NeedsMoreUntilTheEmptyLine) {
  HeadScanner scanner;
  EXPECT_EQ(scanner.scan("GET / HTTP/1.1\r\nHost: t\r\n").state, State::kNeedMore);
}

TEST(HeadScanner, GivesTheSameAnswerOneByteAtATime) {
  const std::string head = "GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\r\n";
  HeadScanner scanner;
  for (std::size_t n = 1; n < head.size(); ++n) {
    ASSERT_EQ(scanner.scan(std::string_view(head).substr(0, n)).state, State::kNeedMore) << n;
  }
  const auto result = scanner.scan(head);
  EXPECT_EQ(result.state, State::kComplete);
  EXPECT_EQ(result.head_size, head.size());
}

TEST(HeadScanner, RefusesABareLf) {
  HeadScanner scanner;
  EXPECT_EQ(scanner.scan("GET / HTTP/1.1\nHost: t\r\n\r\n").state, State::kBareLf);
  scanner.reset();
  EXPECT_EQ(scanner.scan("\n").state, State::kBareLf);
}

TEST(HeadScanner, RefusesObsFoldEvenWhenTheFoldArrivesLater) {
  HeadScanner scanner;
  EXPECT_EQ(scanner.scan("GET / HTTP/1.1\r\nX-A: 1\r\n\tmore\r\n\r\n").state, State::kObsFold);
  scanner.reset();
  EXPECT_EQ(scanner.scan("GET / HTTP/1.1\r\nX-A: 1\r\n").state, State::kNeedMore);
  EXPECT_EQ(scanner.scan("GET / HTTP/1.1\r\nX-A: 1\r\n more\r\n\r\n").state, State::kObsFold);
}

TEST(HeadScanner, RefusesWhitespaceBeforeTheFirstField) {
  HeadScanner scanner;
  EXPECT_EQ(scanner.scan("GET / HTTP/1.1\r\n Host: t\r\n\r\n").state, State::kObsFold);
}

}  // namespace
}  // namespace errand::http
