// The embedded store's persisted encodings: what a restart reads back must be
// what was written, and what it cannot read must be refused, not guessed.
#include "store/embedded/record_codec.hpp"

#include <gtest/gtest.h>
#include <rocksdb/slice.h>
#include <rocksdb/slice_transform.h>

#include <string>

#include "store/embedded/insert_hints.hpp"

namespace errand::embedded {
namespace {

JobRecord full_record() {
  JobRecord r;
  r.id = *JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e");
  r.queue = "mail.outbound";
  r.state = JobState::kRunning;
  r.priority = -7;
  r.attempt = 3;
  r.max_attempts = 9;
  r.backoff = Backoff{250, 1.5, 60'000, 0.1};
  r.lease_ms = 12'345;
  r.created_at = 1'795'778'599'123;
  r.run_at = 1'795'778'600'000;
  r.started_at = 1'795'778'601'000;
  r.finished_at = std::nullopt;
  r.lease_expires_at = 1'795'778'613'345;
  r.deadline = 1'795'779'000'000;
  r.worker = "host-1/123";
  r.lease_token = "0123456789abcdef0123456789abcdef";
  r.error = JobError{"it \"broke\"\n", "IOError", "détail ✓", 2};
  r.progress_json = R"({"percent":40,"message":"m","data":null})";
  r.cancel_requested = true;
  r.leased_event_unwritten = true;
  r.idempotency_key = "key-1";
  r.tags = {"a", "b c"};
  r.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  r.payload_hash = 0xfedcba9876543210ull;  // above INT64_MAX: must survive as unsigned
  r.timeline_seq = 4'000'000'000u;
  return r;
}

void expect_same(const JobRecord& a, const JobRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.queue, b.queue);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.attempt, b.attempt);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_EQ(a.backoff.initial_ms, b.backoff.initial_ms);
  EXPECT_EQ(a.backoff.multiplier, b.backoff.multiplier);
  EXPECT_EQ(a.backoff.max_ms, b.backoff.max_ms);
  EXPECT_EQ(a.backoff.jitter, b.backoff.jitter);
  EXPECT_EQ(a.lease_ms, b.lease_ms);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.run_at, b.run_at);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.finished_at, b.finished_at);
  EXPECT_EQ(a.lease_expires_at, b.lease_expires_at);
  EXPECT_EQ(a.deadline, b.deadline);
  EXPECT_EQ(a.worker, b.worker);
  EXPECT_EQ(a.lease_token, b.lease_token);
  ASSERT_EQ(a.error.has_value(), b.error.has_value());
  if (a.error) {
    EXPECT_EQ(a.error->message, b.error->message);
    EXPECT_EQ(a.error->type, b.error->type);
    EXPECT_EQ(a.error->detail, b.error->detail);
    EXPECT_EQ(a.error->attempt, b.error->attempt);
  }
  EXPECT_EQ(a.progress_json, b.progress_json);
  EXPECT_EQ(a.cancel_requested, b.cancel_requested);
  EXPECT_EQ(a.leased_event_unwritten, b.leased_event_unwritten);
  EXPECT_EQ(a.idempotency_key, b.idempotency_key);
  EXPECT_EQ(a.tags, b.tags);
  EXPECT_EQ(a.traceparent, b.traceparent);
  EXPECT_EQ(a.payload_hash, b.payload_hash);
  EXPECT_EQ(a.timeline_seq, b.timeline_seq);
}

TEST(RecordCodec, JobRecordRoundTripsWithEveryFieldSet) {
  const JobRecord r = full_record();
  const auto decoded = decode_job(encode_job(r));
  ASSERT_TRUE(decoded.has_value());
  expect_same(r, *decoded);
}

TEST(RecordCodec, JobRecordRoundTripsWithOptionalFieldsAbsent) {
  JobRecord r;
  r.id = *JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e");
  r.queue = "q";
  const auto decoded = decode_job(encode_job(r));
  ASSERT_TRUE(decoded.has_value());
  expect_same(r, *decoded);
  EXPECT_FALSE(decoded->error);
  EXPECT_FALSE(decoded->deadline);
}

TEST(RecordCodec, EveryStateRoundTrips) {
  for (int s = 0; s < kJobStateCount; ++s) {
    JobRecord r = full_record();
    r.state = static_cast<JobState>(s);
    const auto decoded = decode_job(encode_job(r));
    ASSERT_TRUE(decoded.has_value()) << s;
    EXPECT_EQ(decoded->state, r.state);
  }
}

TEST(RecordCodec, EncodedJobCarriesTheFormatVersion) {
  EXPECT_EQ(encode_job(full_record())[0], static_cast<char>(kJobFormatVersion));
  QueueState q;
  EXPECT_EQ(encode_queue(q)[0], static_cast<char>(kQueueFormatVersion));
}

TEST(RecordCodec, RefusesARecordOfAnotherFormatVersion) {
  std::string value = encode_job(full_record());
  value[0] = static_cast<char>(kJobFormatVersion + 1);
  EXPECT_FALSE(decode_job(value).has_value());
  std::string queue = encode_queue(QueueState{});
  queue[0] = static_cast<char>(kQueueFormatVersion + 1);
  QueueState back;
  EXPECT_FALSE(decode_queue(queue, back));
}

// Version 2 is version 3 without the part bit for an unwritten "leased"
// event: what version 2 wrote still reads, and that bit in it is refused.
TEST(RecordCodec, ReadsVersionTwoWhichHasNoUnwrittenLeasedEvent) {
  JobRecord r = full_record();
  r.leased_event_unwritten = false;
  std::string value = encode_job(r);
  value[0] = 2;
  const auto decoded = decode_job(value);
  ASSERT_TRUE(decoded.has_value());
  expect_same(r, *decoded);
  r.leased_event_unwritten = true;
  value = encode_job(r);
  EXPECT_TRUE(decode_job(value).has_value());
  value[0] = 2;
  EXPECT_FALSE(decode_job(value).has_value());
}

TEST(RecordCodec, RefusesGarbageAndRecordsOfTheWrongShape) {
  for (const char* bad :
       {"", "not json", "[]", "{}", "{\"v\":1}", "null", R"({"v":1,"id":"nope","state":"queued"})",
        R"({"v":1,"id":"0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e","state":"lost"})"}) {
    EXPECT_FALSE(decode_job(bad).has_value()) << bad;
  }
  const std::string whole = encode_job(full_record());
  for (std::size_t n = 0; n < whole.size(); ++n) {
    EXPECT_FALSE(decode_job(whole.substr(0, n)).has_value()) << "cut to " << n << " bytes";
  }
  EXPECT_FALSE(decode_job(whole + '\0').has_value()) << "a byte too many";
  std::string bad_state = encode_job(full_record());
  bad_state[17 + 1 + full_record().queue.size()] = static_cast<char>(kJobStateCount);
  EXPECT_FALSE(decode_job(bad_state).has_value());
  std::string bad_part = encode_job(full_record());
  bad_part[17 + 1 + full_record().queue.size() + 1] |= 16;  // after the state byte
  EXPECT_FALSE(decode_job(bad_part).has_value());
}

// The in-memory form (JobIndex): the same fields without the version byte
// and the id, which the index keeps as the key.
TEST(RecordCodec, JobFieldsRoundTripWithTheIdKeptApart) {
  const JobRecord r = full_record();
  std::string fields;
  append_job_fields(r, fields);
  EXPECT_EQ(encode_job(r), std::string(1, static_cast<char>(kJobFormatVersion)) +
                               std::string(r.id.raw()) + fields);
  const auto back = decode_job_fields(r.id, fields);
  ASSERT_TRUE(back.has_value());
  expect_same(r, *back);
  for (std::size_t n = 0; n < fields.size(); ++n) {
    EXPECT_FALSE(decode_job_fields(r.id, fields.substr(0, n)).has_value()) << "cut to " << n;
  }
}

TEST(RecordCodec, PeekReadsTheQueueAndStateAlone) {
  for (int s = 0; s < kJobStateCount; ++s) {
    JobRecord r = full_record();
    r.state = static_cast<JobState>(s);
    std::string fields;
    append_job_fields(r, fields);
    const auto head = peek_job_fields(fields);
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->queue, "mail.outbound");
    EXPECT_EQ(head->state, r.state);
  }
  EXPECT_FALSE(peek_job_fields("").has_value());
  EXPECT_FALSE(peek_job_fields("\x05"
                               "abc")
                   .has_value())
      << "a queue name cut short";
  EXPECT_FALSE(peek_job_fields(std::string("\x01q\x09", 3)).has_value()) << "no such state";
}

// Version 1 wrote JSON; a data directory from then must still open.
TEST(RecordCodec, ReadsVersion1JsonRecords) {
  const auto r = decode_job(
      R"({"v":1,"id":"0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e","queue":"orders","state":"running",)"
      R"("priority":0,"attempt":1,"max_attempts":5,)"
      R"("backoff":{"initial_ms":1000,"multiplier":2,"max_ms":3600000,"jitter":0.2},)"
      R"("lease_ms":30000,"granted_lease_ms":30000,"created_at":1796210000000,)"
      R"("run_at":1796210000000,"started_at":1796210000100,"finished_at":null,)"
      R"("lease_expires_at":1796210030100,"deadline":null,"worker":"host-1/123","lease":"tok",)"
      R"("progress":"","cancel_requested":false,"idempotency_key":"","tags":["a"],)"
      R"("traceparent":"","payload_hash":123,"timeline_seq":2,)"
      R"("flow":{"id":"0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9f","step":"charge","compensating":false}})");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->state, JobState::kRunning);
  EXPECT_EQ(r->lease_expires_at, 1796210030100);
  EXPECT_EQ(r->lease_token, "tok");
  ASSERT_TRUE(r->flow.has_value());
  EXPECT_EQ(r->flow->step, "charge");
  // ...and is written back in the current format, unchanged.
  const auto again = decode_job(encode_job(*r));
  ASSERT_TRUE(again.has_value());
  expect_same(*r, *again);
  QueueState q;
  ASSERT_TRUE(decode_queue(
      R"({"v":1,"paused":true,"max_queued":9,"enqueued_total":5,"succeeded_total":4,"failed_total":1})",
      q));
  EXPECT_TRUE(q.paused);
  EXPECT_EQ(q.max_queued, 9);
  EXPECT_EQ(q.enqueued_total, 5);
}

TEST(RecordCodec, ExtremeNumbersRoundTrip) {
  JobRecord r = full_record();
  r.priority = INT32_MIN;
  r.attempt = INT32_MAX;
  r.created_at = INT64_MIN;
  r.run_at = INT64_MAX;
  r.deadline = -1;
  r.payload_hash = UINT64_MAX;
  r.timeline_seq = UINT32_MAX;
  r.flow = FlowRef{*JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9f"), "s", true};
  const auto decoded = decode_job(encode_job(r));
  ASSERT_TRUE(decoded.has_value());
  expect_same(r, *decoded);
  EXPECT_EQ(decoded->flow, r.flow);
}

TEST(RecordCodec, QueueRecordRoundTrips) {
  QueueState q;
  q.name = "orders";
  q.paused = true;
  q.enqueued_total = 1'000'000'000'000;
  q.succeeded_total = 42;
  q.failed_total = 7;
  QueueState back;
  ASSERT_TRUE(decode_queue(encode_queue(q), back));
  EXPECT_TRUE(back.paused);
  EXPECT_EQ(back.enqueued_total, q.enqueued_total);
  EXPECT_EQ(back.succeeded_total, 42);
  EXPECT_EQ(back.failed_total, 7);
  EXPECT_FALSE(decode_queue("garbage", back));
  EXPECT_FALSE(decode_queue("{}", back));
}

TEST(RecordCodec, TimelineKeysSortByJobThenSequence) {
  const JobId a = *JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e");
  const JobId b = *JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9f");
  EXPECT_EQ(timeline_key(a, 1).size(), 20u);
  EXPECT_LT(timeline_key(a, 1), timeline_key(a, 2));
  EXPECT_LT(timeline_key(a, 255), timeline_key(a, 256)) << "big-endian, so bytes sort as numbers";
  EXPECT_LT(timeline_key(a, 0xffffffffu), timeline_key(b, 0));
  for (std::uint32_t seq : {0u, 1u, 200u, 65'536u, 0xffffffffu}) {
    EXPECT_EQ(timeline_key_seq(timeline_key(a, seq)), seq);
  }
}

// The range tombstone a purge writes starts at sequence 0 and must not take
// the events' hint (store/embedded/insert_hints.hpp).
TEST(RecordCodec, EventsTakeTheInsertHintAPurgesRangeTombstoneDoesNot) {
  const JobId a = *JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e");
  const auto hint = one_hint_for_events();
  const auto in_domain = [&](const std::string& key) { return hint->InDomain(key); };
  EXPECT_FALSE(in_domain(timeline_key(a, 0)));
  for (std::uint32_t seq : {1u, 200u, 256u, 0x01000000u, 0xffffffffu}) {
    EXPECT_TRUE(in_domain(timeline_key(a, seq))) << seq;
    EXPECT_EQ(hint->Transform(timeline_key(a, seq)).size(), 0u) << "one hint for the family";
  }
  EXPECT_FALSE(in_domain(std::string(a.raw()))) << "not a timeline key";
}

}  // namespace
}  // namespace errand::embedded
