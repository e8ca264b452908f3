#include "cli/table.hpp"

#include <gtest/gtest.h>

namespace errand::cli {
namespace {

TEST(Table, AlignsColumnsTwoSpacesApart) {
  EXPECT_EQ(format_table({{"NAME"}, {"COUNT", Align::kRight}}, {{"a", "1"}, {"longer", "250"}}),
            "NAME    COUNT\n"
            "a           1\n"
            "longer    250\n");
}

TEST(Table, NoTrailingBlanksAndMissingCellsAreEmpty) {
  EXPECT_EQ(format_table({{"A"}, {"B"}}, {{"x"}, {"y", "z"}}),
            "A  B\n"
            "x\n"
            "y  z\n");
}

TEST(Table, WidthCountsCharactersNotBytes) {
  EXPECT_EQ(format_table({{"N"}, {"X"}}, {{"caf\xC3\xA9", "1"}, {"abcd", "2"}}),
            "N     X\n"
            "caf\xC3\xA9  1\n"
            "abcd  2\n");
}

TEST(Table, ControlCharactersBecomeSpaces) {
  EXPECT_EQ(format_table({{"E"}}, {{"two\nlines\t!"}}), "E\ntwo lines !\n");
}

TEST(Table, OnlyTitlesWhenThereAreNoRows) {
  EXPECT_EQ(format_table({{"ID"}, {"STATE"}}, {}), "ID  STATE\n");
}

TEST(Table, JobsShowStateAttemptProgressAndError) {
  Job running;
  running.id = "0190a1b2-0000-7000-8000-000000000001";
  running.queue = "images";
  running.state = "running";
  running.attempt = 1;
  running.max_attempts = 5;
  running.json =
      R"({"created_at":"2024-07-01T10:00:00.000Z","progress":{"percent":40,"message":"x","data":null},"error":null})";
  Job failed;
  failed.id = "0190a1b2-0000-7000-8000-000000000002";
  failed.queue = "images";
  failed.state = "failed";
  failed.attempt = 5;
  failed.max_attempts = 5;
  failed.json =
      R"({"created_at":"2024-07-01T09:00:00.000Z","progress":null,"error":{"message":"bad size:\n-1","type":"exit"}})";
  EXPECT_EQ(jobs_table({running, failed}),
            "ID                                    QUEUE   STATE    ATTEMPT  PROGRESS  CREATED     "
            "              ERROR\n"
            "0190a1b2-0000-7000-8000-000000000001  images  running      1/5       40%  "
            "2024-07-01T10:00:00.000Z  -\n"
            "0190a1b2-0000-7000-8000-000000000002  images  failed       5/5         -  "
            "2024-07-01T09:00:00.000Z  bad size: -1\n");
}

TEST(Table, LongErrorsAreShortened) {
  Job j;
  j.id = "i";
  j.queue = "q";
  j.state = "failed";
  j.json = R"({"error":{"message":")" + std::string(100, 'e') + R"("}})";
  const std::string table = jobs_table({j});
  EXPECT_NE(table.find(std::string(59, 'e') + "\xE2\x80\xA6\n"), std::string::npos) << table;
  EXPECT_EQ(table.find(std::string(60, 'e')), std::string::npos) << table;
}

TEST(Table, QueuesShowCountsByStateAndOldestAge) {
  Queue a;
  a.name = "images";
  a.counts = {{"queued", 3}, {"running", 1}, {"failed", 2}};
  a.oldest_queued_ms = 65'000;
  Queue b;
  b.name = "mail";
  b.paused = true;
  EXPECT_EQ(
      queues_table({a, b}),
      "NAME    PAUSED  SCHEDULED  QUEUED  RUNNING  SUCCEEDED  FAILED  CANCELLED  EXPIRED  OLDEST\n"
      "images  no              0       3        1          0       2          0        0   1m05s\n"
      "mail    yes             0       0        0          0       0          0        0       "
      "-\n");
}

TEST(Table, AgesAreShort) {
  EXPECT_EQ(format_age(850), "850ms");
  EXPECT_EQ(format_age(12'400), "12s");
  EXPECT_EQ(format_age(245'000), "4m05s");
  EXPECT_EQ(format_age(12'000'000), "3h20m");
  EXPECT_EQ(format_age(187'200'000), "2d04h");
  EXPECT_EQ(format_age(-5), "0ms");
}

}  // namespace
}  // namespace errand::cli
