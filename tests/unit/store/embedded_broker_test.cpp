// Runs the Broker conformance suite (broker_test.cpp) on the embedded RocksDB
// store, once per durability mode that promises a clean restart keeps data.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include "broker_conformance.hpp"
#include "store/embedded/embedded_broker.hpp"
#include "store/embedded/record_codec.hpp"
#include "store/embedded/store_db.hpp"

namespace errand::conformance {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "errand-store-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class EmbeddedStore final : public BrokerStore {
 public:
  explicit EmbeddedStore(embedded::Durability durability) : durability_(durability) {}
  Result<std::unique_ptr<Broker>> open(const StoreOptions& options) override {
    embedded::EmbeddedOptions embedded_options;
    embedded_options.data_dir = dir_.path().string();
    embedded_options.durability = durability_;
    embedded_options.retention_ms = options.retention_ms;
    embedded_options.no_worker_after_ms = options.no_worker_after_ms;
    return embedded::open_embedded_broker(embedded_options);
  }

 private:
  TempDir dir_;
  embedded::Durability durability_;
};

BrokerBackend embedded_backend(std::string name, embedded::Durability durability) {
  return {std::move(name), [durability] { return std::make_unique<EmbeddedStore>(durability); }};
}

INSTANTIATE_TEST_SUITE_P(Embedded, BrokerTest,
                         ::testing::Values(embedded_backend("Fsync", embedded::Durability::kFsync),
                                           embedded_backend("Memory",
                                                            embedded::Durability::kMemory)),
                         [](const auto& info) { return info.param.name; });

// ---- What only the embedded store has: a directory and a file format ----------------

embedded::EmbeddedOptions options_in(const TempDir& dir) {
  embedded::EmbeddedOptions options;
  options.data_dir = dir.path().string();
  return options;
}

// Rewrites the value of every record in the column family `cf` (see
// docs/storage-format.md) of the closed store in `dir`.
// Opens a store in `dir`, submits one job to "q", closes it; the job's id.
JobId store_one_job(const TempDir& dir) {
  auto broker = must(embedded::open_embedded_broker(options_in(dir)), "open");
  auto r = must(await_result<std::vector<SubmitOutcome>>(
                    [&](auto done) { broker->submit({job("q")}, std::move(done)); }),
                "submit");
  return r.at(0).job.record.id;
}

// Opens the closed store in `dir` with plain RocksDB and calls `use` with
// column family `cf`.
void with_raw_family(const TempDir& dir, const std::string& cf,
                     const std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle*)>& use) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, dir.path().string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open({}, dir.path().string(), descriptors, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  const auto it = std::find(names.begin(), names.end(), cf);
  EXPECT_NE(it, names.end()) << "no column family " << cf;
  if (it != names.end()) use(*db, handles[it - names.begin()]);
  for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
}

std::vector<std::pair<std::string, std::string>> records_of(rocksdb::DB& db,
                                                            rocksdb::ColumnFamilyHandle* h) {
  std::vector<std::pair<std::string, std::string>> records;
  std::unique_ptr<rocksdb::Iterator> i(db.NewIterator({}, h));
  for (i->SeekToFirst(); i->Valid(); i->Next()) {
    records.emplace_back(i->key().ToString(), i->value().ToString());
  }
  return records;
}

void rewrite_records(const TempDir& dir, const std::string& cf,
                     const std::function<std::string(std::string)>& change) {
  with_raw_family(dir, cf, [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* h) {
    const auto records = records_of(db, h);
    ASSERT_FALSE(records.empty());
    for (const auto& [key, value] : records) ASSERT_TRUE(db.Put({}, h, key, change(value)).ok());
  });
}

TEST(EmbeddedBroker, SecondOpenOfAnOpenStoreIsUnavailable) {
  TempDir dir;
  auto first = embedded::open_embedded_broker(options_in(dir));
  ASSERT_TRUE(first.is_ok()) << describe(first.status());
  auto second = embedded::open_embedded_broker(options_in(dir));
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_NE(second.status().message().find(dir.path().string()), std::string::npos)
      << "the error names the directory: " << second.status().message();
}

TEST(EmbeddedBroker, OpenWhereNoDirectoryCanBeMadeIsUnavailable) {
  TempDir dir;
  const fs::path file = dir.path() / "a-file";
  std::ofstream(file) << "not a directory";
  embedded::EmbeddedOptions options;
  options.data_dir = (file / "store").string();
  EXPECT_EQ(embedded::open_embedded_broker(options).status().code(), Code::kUnavailable);
}

TEST(EmbeddedBroker, RefusesToOpenAStoreWrittenInANewerFormat) {
  TempDir dir;
  store_one_job(dir);
  rewrite_records(dir, "jobs", [&](std::string value) {
    value[0] = static_cast<char>(embedded::kJobFormatVersion + 1);
    return value;
  });
  auto reopened = embedded::open_embedded_broker(options_in(dir));
  EXPECT_EQ(reopened.status().code(), Code::kInternal)
      << (reopened.is_ok() ? "opened" : describe(reopened.status()));
}

TEST(EmbeddedBroker, OpensAStoreWrittenInFormatVersion1) {
  TempDir dir;
  const JobId id = store_one_job(dir);
  // What version 1 wrote (docs/storage-format.md), for the same job.
  rewrite_records(dir, "jobs", [&](std::string) {
    return R"({"v":1,"id":")" + id.to_string() +
           R"(","queue":"q","state":"queued","priority":3,"attempt":0,"max_attempts":5,)"
           R"("backoff":{"initial_ms":1000,"multiplier":2,"max_ms":3600000,"jitter":0.2},)"
           R"("lease_ms":30000,"granted_lease_ms":30000,"created_at":1796210000000,)"
           R"("run_at":1796210000000,"started_at":null,"finished_at":null,)"
           R"("lease_expires_at":null,"deadline":null,"worker":"","lease":"",)"
           R"("progress":"","cancel_requested":false,"idempotency_key":"k1","tags":["t"],)"
           R"("traceparent":"","payload_hash":1,"timeline_seq":1})";
  });
  rewrite_records(dir, "queues", [](std::string) {
    return std::string(
        R"({"v":1,"paused":false,"enqueued_total":7,"succeeded_total":2,"failed_total":1})");
  });
  auto broker = must(embedded::open_embedded_broker(options_in(dir)), "reopen");
  auto got = await_result<JobView>([&](auto done) { broker->get(id, std::move(done)); });
  ASSERT_TRUE(got.is_ok()) << describe(got.status());
  EXPECT_EQ(got->record.priority, 3);
  EXPECT_EQ(got->record.idempotency_key, "k1");
  EXPECT_EQ(got->record.tags, std::vector<std::string>{"t"});
  auto stats = await_result<QueueStats>([&](auto done) { broker->queue("q", std::move(done)); });
  ASSERT_TRUE(stats.is_ok());
  EXPECT_EQ(stats->enqueued_total, 7);
  EXPECT_EQ(stats->succeeded_total, 2);
  // It is leased from where it was, and written back in the current format.
  LeaseSpec spec;
  spec.queues = {"q"};
  spec.worker = "w";
  auto leased =
      await_result<std::vector<JobView>>([&](auto done) { broker->lease(spec, std::move(done)); });
  ASSERT_TRUE(leased.is_ok() && leased->size() == 1u);
  EXPECT_EQ((*leased)[0].record.id, id);
}

// A job's "enqueued" event follows from its record: it is derived when the
// timeline is read, not written (one memtable insert less a submit).
TEST(EmbeddedBroker, WritesNoEnqueuedEventAndShowsTheOneAnOlderStoreWrote) {
  TempDir dir;
  const JobId id = store_one_job(dir);
  const std::string stored = R"({"seq":1,"at":"2026-11-01T00:00:00.000Z","type":"enqueued",)"
                             R"("queue":"as-stored","priority":0})";
  with_raw_family(dir, "timeline", [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* h) {
    EXPECT_TRUE(records_of(db, h).empty()) << "a new store writes no enqueued event";
    // What stores before this one wrote.
    ASSERT_TRUE(db.Put({}, h, embedded::timeline_key(id, 1), stored).ok());
  });
  auto broker = must(embedded::open_embedded_broker(options_in(dir)), "reopen");
  auto events = await_result<std::vector<TimelineEvent>>(
      [&](auto done) { broker->timeline(id, 0, std::move(done)); });
  ASSERT_TRUE(events.is_ok()) << describe(events.status());
  ASSERT_EQ(events->size(), 1u) << "the stored event, not a second one";
  EXPECT_EQ(events->at(0).json, stored);
}

// So do "leased" and "succeeded": a job leased and acked at once writes no
// event at all; a heartbeat between writes the lease's then its own.
TEST(EmbeddedBroker, WritesNoLeasedOrSucceededEventAndShowsThoseAnOlderStoreWrote) {
  TempDir dir;
  JobId acked;
  JobId beating;
  {
    auto broker = must(embedded::open_embedded_broker(options_in(dir)), "open");
    const auto submitted = must(await_result<std::vector<SubmitOutcome>>([&](auto done) {
                                  broker->submit({job("q"), job("q")}, std::move(done));
                                }),
                                "submit");
    acked = submitted.at(0).job.record.id;
    beating = submitted.at(1).job.record.id;
    auto leased = must(await_result<std::vector<JobView>>([&](auto done) {
                         broker->lease(lease_spec({"q"}, 2), std::move(done));
                       }),
                       "lease");
    ASSERT_EQ(leased.size(), 2u);
    ASSERT_TRUE(
        await_result<JobState>([&](auto done) {
          broker->ack(AckSpec{acked, leased[0].record.lease_token, "null"}, std::move(done));
        }).is_ok());
    ASSERT_TRUE(await_result<HeartbeatOutcome>([&](auto done) {
                  broker->heartbeat(HeartbeatSpec{beating, leased[1].record.lease_token, 5000, {}},
                                    std::move(done));
                }).is_ok());
  }
  const std::string stored_leased =
      R"({"seq":2,"at":"2026-11-01T00:00:00.000Z","type":"leased","worker":"as-stored",)"
      R"("attempt":1,"lease_expires_at":"2026-11-01T00:00:30.000Z"})";
  const std::string stored_succeeded =
      R"({"seq":3,"at":"2026-11-01T00:00:01.000Z","type":"succeeded",)"
      R"("attempt":1,"worker":"as-stored"})";
  with_raw_family(dir, "timeline", [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* h) {
    const auto records = records_of(db, h);
    ASSERT_EQ(records.size(), 2u) << "the heartbeat's job's lease and heartbeat alone";
    EXPECT_EQ(records[0].first, embedded::timeline_key(beating, 2));
    EXPECT_EQ(records[1].first, embedded::timeline_key(beating, 3));
    // What stores before this one wrote for the acked job.
    ASSERT_TRUE(db.Put({}, h, embedded::timeline_key(acked, 2), stored_leased).ok());
    ASSERT_TRUE(db.Put({}, h, embedded::timeline_key(acked, 3), stored_succeeded).ok());
  });
  // ... and its record, in version 2: without the bit for an unwritten lease.
  rewrite_records(dir, "jobs", [&](std::string value) {
    auto r = embedded::decode_job(value);
    EXPECT_TRUE(r.has_value());
    if (!r || r->id != acked) return value;
    EXPECT_TRUE(r->leased_event_unwritten);
    r->leased_event_unwritten = false;
    std::string v2 = embedded::encode_job(*r);
    v2[0] = 2;
    return v2;
  });
  auto broker = must(embedded::open_embedded_broker(options_in(dir)), "reopen");
  auto events = await_result<std::vector<TimelineEvent>>(
      [&](auto done) { broker->timeline(acked, 0, std::move(done)); });
  ASSERT_TRUE(events.is_ok()) << describe(events.status());
  ASSERT_EQ(events->size(), 3u) << "the stored events, not second ones";
  EXPECT_EQ(events->at(0).type, "enqueued");
  EXPECT_EQ(events->at(1).json, stored_leased);
  EXPECT_EQ(events->at(2).json, stored_succeeded);
}

// A lease reads its jobs' payloads with one get_all().
TEST(StoreDb, GetAllAnswersEachKeyInOrderAndNothingForAMissingOne) {
  TempDir dir;
  auto db = must(embedded::StoreDb::open({dir.path().string(), {"data"}, nullptr, {}}), "open");
  rocksdb::WriteBatch batch;
  for (const std::string key : {"a", "c", "b"}) batch.Put(db->handles()[0], key, "value of " + key);
  ASSERT_TRUE(db->write(rocksdb::WriteOptions(), &batch).ok());
  std::vector<std::string> values = {"stale"};
  db->get_all(0, {"b", "missing", "a", "b"}, values);
  EXPECT_EQ(values, (std::vector<std::string>{"value of b", "", "value of a", "value of b"}));
  db->get_all(0, {}, values);
  EXPECT_TRUE(values.empty());
}

// The embedded store answers the hint from memory, so waiters skip reads.
TEST(EmbeddedBroker, KnowsAQueuedOrRunningJobIsUnfinished) {
  TempDir dir;
  auto broker = must(embedded::open_embedded_broker(options_in(dir)), "open");
  auto submitted = must(await_result<std::vector<SubmitOutcome>>(
                            [&](auto done) { broker->submit({job("q")}, std::move(done)); }),
                        "submit");
  const JobId id = submitted.front().job.record.id;
  EXPECT_TRUE(broker->known_unfinished(id));
  auto leased = must(await_result<std::vector<JobView>>(
                         [&](auto done) { broker->lease(lease_spec({"q"}), std::move(done)); }),
                     "lease");
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_TRUE(broker->known_unfinished(id));
}

// A waiter for a job's end answers with the ack's own view of it, without
// reading the store (engine/ended_jobs.hpp): the record the ack wrote and
// its result; the payload is the submitter's to add. Kept only for a job
// someone waits on, and forgotten once the job changes again.
TEST(EmbeddedBroker, AnAckKeepsTheJobAsItLeftItForItsWaitersUntilTheJobChangesAgain) {
  TempDir dir;
  auto broker = must(embedded::open_embedded_broker(options_in(dir)), "open");
  auto submitted = must(await_result<std::vector<SubmitOutcome>>([&](auto done) {
                          broker->submit({job("q"), job("q")}, std::move(done));
                        }),
                        "submit");
  const JobId waited = submitted.at(0).job.record.id;
  const JobId unwaited = submitted.at(1).job.record.id;
  auto leased = must(await_result<std::vector<JobView>>(
                         [&](auto done) { broker->lease(lease_spec({"q"}, 2), std::move(done)); }),
                     "lease");
  ASSERT_EQ(leased.size(), 2u);
  const std::vector<std::string> topics{job_topic(waited)};
  const auto subscription = broker->waiters().subscribe(topics, [] {});
  for (const JobView& j : leased) {
    ASSERT_TRUE(
        await_result<JobState>([&](auto done) {
          broker->ack(AckSpec{j.record.id, j.record.lease_token, R"({"n":1})"}, std::move(done));
        }).is_ok());
  }
  broker->waiters().unsubscribe(subscription);

  EXPECT_FALSE(broker->ended_view(unwaited)) << "nobody waited for it";
  const auto ended = broker->ended_view(waited);
  ASSERT_TRUE(ended);
  const JobView read =
      must(await_result<JobView>([&](auto done) { broker->get(waited, std::move(done)); }), "get");
  EXPECT_EQ(ended->record.state, JobState::kSucceeded);
  EXPECT_EQ(embedded::encode_job(ended->record), embedded::encode_job(read.record))
      << "the record as stored";
  EXPECT_EQ(ended->result_json, R"({"n":1})");
  EXPECT_EQ(ended->result_json, read.result_json);
  EXPECT_TRUE(ended->payload_json.empty()) << "payloads are not kept in memory";
  EXPECT_FALSE(ended->waiting_on);

  ASSERT_TRUE(
      await_result<Empty>([&](auto done) { broker->discard(waited, std::move(done)); }).is_ok());
  EXPECT_FALSE(broker->ended_view(waited)) << "a later change forgets it";
}

TEST(EmbeddedBroker, EveryReopenSeesWhatEarlierOpensWrote) {
  TempDir dir;
  for (int round = 0; round < 3; ++round) {
    auto broker = must(embedded::open_embedded_broker(options_in(dir)), "open");
    auto r = await_result<std::vector<SubmitOutcome>>([&](auto done) {
      broker->submit({job("q"), job("q")}, std::move(done));
    });
    ASSERT_TRUE(r.is_ok()) << describe(r.status());
    auto stats = await_result<QueueStats>([&](auto done) { broker->queue("q", std::move(done)); });
    ASSERT_TRUE(stats.is_ok());
    EXPECT_EQ(stats->enqueued_total, 2 * (round + 1));
    EXPECT_EQ(stats->counts[static_cast<int>(JobState::kQueued)], 2 * (round + 1));
  }
}

}  // namespace
}  // namespace errand::conformance
