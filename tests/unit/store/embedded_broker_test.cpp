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
void rewrite_records(const TempDir& dir, const std::string& cf,
                     const std::function<std::string(std::string)>& change) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, dir.path().string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open({}, dir.path().string(), descriptors, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  const auto it = std::find(names.begin(), names.end(), cf);
  ASSERT_NE(it, names.end()) << "no column family " << cf;
  rocksdb::ColumnFamilyHandle* h = handles[it - names.begin()];
  std::vector<std::pair<std::string, std::string>> records;
  {
    std::unique_ptr<rocksdb::Iterator> i(db->NewIterator({}, h));
    for (i->SeekToFirst(); i->Valid(); i->Next()) {
      records.emplace_back(i->key().ToString(), i->value().ToString());
    }
  }
  ASSERT_FALSE(records.empty());
  for (auto& [key, value] : records) {
    ASSERT_TRUE(db->Put({}, h, key, change(value)).ok());
  }
  for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
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
  {
    auto broker = must(embedded::open_embedded_broker(options_in(dir)), "open");
    auto r = await_result<std::vector<SubmitOutcome>>(
        [&](auto done) { broker->submit({job("q")}, std::move(done)); });
    ASSERT_TRUE(r.is_ok()) << describe(r.status());
  }
  const std::string version = "\"v\":" + std::to_string(embedded::kRecordFormatVersion);
  rewrite_records(dir, "jobs", [&](std::string value) {
    const auto at = value.find(version);
    if (at != std::string::npos) {
      value.replace(at, version.size(),
                    "\"v\":" + std::to_string(embedded::kRecordFormatVersion + 1));
    }
    return value;
  });
  auto reopened = embedded::open_embedded_broker(options_in(dir));
  EXPECT_EQ(reopened.status().code(), Code::kInternal)
      << (reopened.is_ok() ? "opened" : describe(reopened.status()));
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
