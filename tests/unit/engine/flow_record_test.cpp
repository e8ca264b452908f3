// engine/flow_record: the flow record both stores keep reads back as it was
// written, and one of another version is refused.
#include "engine/flow_record.hpp"

#include <gtest/gtest.h>

#include <string>

namespace errand {
namespace {

constexpr Millis kNow = 1'800'000'000'000;

FlowRecord sample() {
  FlowRecord f;
  f.id = UuidV7Generator(1).next(kNow);
  f.name = "checkout";
  f.created_at = kNow;
  f.deadline = kNow + 60'000;
  f.idempotency_key = "order-7";
  f.content_hash = 12345;
  SubmitSpec job;
  job.queue = "payments";
  job.payload_json = R"({"amount":10})";
  job.tags = {"eu"};
  f.steps.push_back({"charge",
                     {},
                     "payments",
                     UuidV7Generator(2).next(kNow),
                     std::nullopt,
                     true,
                     job,
                     std::nullopt});
  f.steps.push_back(
      {"confirm", {"charge"}, "orders", std::nullopt, job, false, std::nullopt, std::nullopt});
  f.status.steps.resize(2);
  f.status.steps[0] = {StepPhase::kSucceeded, false, 1, CompensationPhase::kNone};
  f.status.completions = 1;
  f.timeline_seq = 4;
  return f;
}

TEST(FlowRecord, ReadsBackAsWritten) {
  const FlowRecord f = sample();
  const std::string stored = encode_flow(f);
  const auto loaded = decode_flow(stored);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(encode_flow(*loaded), stored);
  EXPECT_EQ(loaded->id, f.id);
  EXPECT_EQ(loaded->steps[1].after, (std::vector<std::string>{"charge"}));
  ASSERT_TRUE(loaded->steps[0].compensate);
  EXPECT_EQ(loaded->steps[0].compensate->payload_json, R"({"amount":10})");
  EXPECT_EQ(loaded->status.steps[0].phase, StepPhase::kSucceeded);
  ASSERT_EQ(loaded->graph.after.size(), 2u) << "the graph is derived on reading";
  EXPECT_EQ(loaded->graph.after[1], (std::vector<std::size_t>{0}));
}

TEST(FlowRecord, OneOfAnotherVersionOrNotJsonIsRefused) {
  std::string stored = encode_flow(sample());
  const std::string v1 = "\"v\":" + std::to_string(kFlowRecordVersion);
  ASSERT_NE(stored.find(v1), std::string::npos);
  stored.replace(stored.find(v1), v1.size(), "\"v\":99");
  EXPECT_FALSE(decode_flow(stored));
  EXPECT_FALSE(decode_flow("not json"));
  EXPECT_FALSE(decode_flow(R"({"v":1})"));
}

}  // namespace
}  // namespace errand
