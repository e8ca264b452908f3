#include "core/queue_name.hpp"

#include <gtest/gtest.h>

#include <string>

namespace errand {
namespace {

TEST(QueueName, AcceptsLettersDigitsDotsUnderscoresAndDashes) {
  for (const char* good : {"a", "Z", "7", "orders", "mail.outbound", "fraud_check", "v2-payments",
                           "A.b_C-d.9", "0-.-_"}) {
    EXPECT_TRUE(is_valid_queue_name(good)) << good;
  }
}

TEST(QueueName, AcceptsExactly128Characters) {
  EXPECT_TRUE(is_valid_queue_name(std::string(128, 'q')));
  EXPECT_TRUE(is_valid_queue_name("a" + std::string(127, '-')));
  EXPECT_EQ(kMaxQueueNameLength, 128u);
}

TEST(QueueName, Rejects129Characters) {
  EXPECT_FALSE(is_valid_queue_name(std::string(129, 'q')));
  EXPECT_FALSE(is_valid_queue_name(std::string(1000, 'q')));
}

TEST(QueueName, RejectsEmpty) { EXPECT_FALSE(is_valid_queue_name("")); }

TEST(QueueName, MustStartWithALetterOrDigit) {
  for (const char* bad : {".hidden", "-dash", "_under", ".", "-", "_"}) {
    EXPECT_FALSE(is_valid_queue_name(bad)) << bad;
  }
}

TEST(QueueName, RejectsSlashesSpacesAndPunctuation) {
  for (const char* bad : {"a/b", "/a", "a b", " a", "a ", "a\tb", "a\nb", "a:b", "a*", "a?b",
                          "a%20b", "..", "a\\b", "a+b", "a@b", "a#b"}) {
    EXPECT_FALSE(is_valid_queue_name(bad)) << '"' << bad << '"';
  }
}

TEST(QueueName, RejectsNonAsciiCharacters) {
  for (const char* bad :
       {"caf\xc3\xa9", "\xc3\xa9t\xc3\xa9", "q\xe2\x80\x8b", "\xf0\x9f\x93\xa6"}) {
    EXPECT_FALSE(is_valid_queue_name(bad)) << bad;
  }
}

TEST(QueueName, RejectsEmbeddedNul) { EXPECT_FALSE(is_valid_queue_name(std::string("ab\0cd", 5))); }

}  // namespace
}  // namespace errand
