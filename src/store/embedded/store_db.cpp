#include "store/embedded/store_db.hpp"

#include <rocksdb/env.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/wal_filter.h>

#include <cstdint>

namespace errand::embedded {
namespace {

constexpr std::size_t kMemtableBudget = 64 << 20;

// RocksDB's own recovery (the SstFileManager's after a full disk) would
// resume writes under the store's feet; the store reopens by itself instead.
class NoAutomaticRecovery final : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "errand.NoAutomaticRecovery"; }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

// Replays only the log records of writes that succeeded: those up to the
// last sequence number the database had applied when it was closed.
class ReplayUpTo final : public rocksdb::WalFilter {
 public:
  explicit ReplayUpTo(rocksdb::SequenceNumber last) : last_(last) {}
  const char* Name() const override { return "errand.ReplayUpTo"; }
  WalProcessingOption LogRecordFound(unsigned long long, const std::string&,
                                     const rocksdb::WriteBatch& batch, rocksdb::WriteBatch*,
                                     bool*) override {
    return first_sequence(batch) > last_ ? WalProcessingOption::kIgnoreCurrentRecord
                                         : WalProcessingOption::kContinueProcessing;
  }

 private:
  // A batch as logged starts with its first sequence number, a little-endian
  // fixed64 (RocksDB's WriteBatch format: sequence, count, records).
  static rocksdb::SequenceNumber first_sequence(const rocksdb::WriteBatch& batch) {
    const std::string& rep = batch.Data();
    if (rep.size() < 8) return 0;
    std::uint64_t seq = 0;
    for (int i = 7; i >= 0; --i) seq = (seq << 8) | static_cast<unsigned char>(rep[i]);
    return seq;
  }
  const rocksdb::SequenceNumber last_;
};

rocksdb::Status closed() {
  return rocksdb::Status::IOError(
      "the store is closed after a disk failure; it reopens on its own");
}

Status unavailable_from(const rocksdb::Status& s, std::string_view what) {
  return unavailable(std::string(what) + ": " + s.ToString());
}

}  // namespace

StoreDb::StoreDb(StoreDbOptions options) : options_(std::move(options)) {
  fs_ = options_.file_system ? options_.file_system : rocksdb::FileSystem::Default();
  if (options_.file_system) env_ = rocksdb::NewCompositeEnv(options_.file_system);
}

Result<std::unique_ptr<StoreDb>> StoreDb::open(StoreDbOptions options) {
  std::unique_ptr<StoreDb> db(new StoreDb(std::move(options)));
  const rocksdb::Status s = db->open_db(false, nullptr);
  if (!s.ok()) return unavailable_from(s, "cannot open the store in " + db->options_.path);
  return db;
}

StoreDb::~StoreDb() { close_db(); }

rocksdb::Status StoreDb::open_db(bool read_only, rocksdb::WalFilter* wal_filter) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // Every column family's memtables together, not 2 x 64 MiB each: the
  // store's memory should grow with the jobs it holds, not with its column
  // families (docs/storage-format.md, "Memory").
  db_options.db_write_buffer_size = kMemtableBudget;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 2;
  db_options.max_bgerror_resume_count = 0;  // see NoAutomaticRecovery
  db_options.listeners.push_back(std::make_shared<NoAutomaticRecovery>());
  db_options.wal_filter = wal_filter;
  if (env_) db_options.env = env_.get();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (std::size_t i = 0; i < options_.column_families.size(); ++i) {
    rocksdb::ColumnFamilyOptions cf_options;
    if (i < options_.insert_hints.size()) {
      cf_options.memtable_insert_with_hint_prefix_extractor = options_.insert_hints[i];
    }
    descriptors.emplace_back(options_.column_families[i], cf_options);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s =
      read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, options_.path, descriptors, &handles, &raw)
          : rocksdb::DB::Open(db_options, options_.path, descriptors, &handles, &raw);
  if (!s.ok()) return s;
  db_.reset(raw);
  db_->DestroyColumnFamilyHandle(handles[0]);  // the default family is unused
  handles.erase(handles.begin());
  handles_ = std::move(handles);
  return s;
}

void StoreDb::close_db() {
  if (!db_) return;
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  // After a disk failure closing reports that failure again: nothing to add.
  db_->Close().PermitUncheckedError();
  db_.reset();
}

namespace {

// RocksDB counts every key comparison in a thread-local PerfContext unless
// the thread's perf level says not to; nobody reads those counters here, and
// each count is a thread-local lookup in a shared library: a fifth of a
// write's instructions. The level is per thread, so each thread that reads
// or writes sets it once.
void quiet_perf_counters() {
  thread_local const bool quiet = [] {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    return true;
  }();
  (void)quiet;
}

}  // namespace

rocksdb::Status StoreDb::get(std::size_t cf, std::string_view key, std::string* value) {
  quiet_perf_counters();
  std::shared_lock gate(gate_);
  return db_ ? db_->Get({}, handles_[cf], key, value) : closed();
}

void StoreDb::get_all(std::size_t cf, const std::vector<std::string_view>& keys,
                      std::vector<std::string>& values) {
  values.assign(keys.size(), std::string());
  if (keys.empty()) return;
  quiet_perf_counters();
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> found(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  std::shared_lock gate(gate_);
  if (!db_) return;
  db_->MultiGet({}, handles_[cf], keys.size(), slices.data(), found.data(), statuses.data());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].ok()) values[i].assign(found[i].data(), found[i].size());
  }
}

std::uint64_t StoreDb::entries_in_memory(std::size_t cf) {
  std::shared_lock gate(gate_);
  std::uint64_t active = 0, immutable = 0;
  if (!db_) return 0;
  db_->GetIntProperty(handles_[cf], rocksdb::DB::Properties::kNumEntriesActiveMemTable, &active);
  db_->GetIntProperty(handles_[cf], rocksdb::DB::Properties::kNumEntriesImmMemTables, &immutable);
  return active + immutable;
}

StoreDb::Cursor::Cursor(Cursor&& other) noexcept : db_(other.db_), it_(std::move(other.it_)) {
  other.db_ = nullptr;
}

StoreDb::Cursor::~Cursor() {
  it_.reset();  // before the database may close
  if (db_) db_->gate_.unlock_shared();
}

StoreDb::Cursor StoreDb::scan(std::size_t cf) {
  gate_.lock_shared();  // until the Cursor is destroyed
  std::unique_ptr<rocksdb::Iterator> it(db_ ? db_->NewIterator({}, handles_[cf])
                                            : rocksdb::NewErrorIterator(closed()));
  return Cursor(this, std::move(it));
}

rocksdb::Status StoreDb::write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch* batch) {
  quiet_perf_counters();
  std::shared_lock gate(gate_);
  return db_ ? db_->Write(options, batch) : closed();
}

rocksdb::Status StoreDb::flush() {
  std::shared_lock gate(gate_);
  return db_ ? db_->Flush({}, handles_) : closed();
}

Status StoreDb::probe() {
  const std::string name = options_.path + "/WRITE-PROBE";
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = fs_->NewWritableFile(name, rocksdb::FileOptions(), &file, nullptr);
  if (s.ok()) {
    const std::string block(4096, '\0');
    s = file->Append(block, rocksdb::IOOptions(), nullptr);
    if (s.ok()) s = file->Sync(rocksdb::IOOptions(), nullptr);
    const rocksdb::IOStatus closed = file->Close(rocksdb::IOOptions(), nullptr);
    if (s.ok()) s = closed;
  }
  file.reset();
  fs_->DeleteFile(name, rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  if (!s.ok()) return unavailable_from(s, "the disk still fails");
  return Status::ok();
}

Status StoreDb::probe_log() {
  rocksdb::WriteBatch batch;
  batch.PutLogData("errand: write probe after a disk failure");
  rocksdb::WriteOptions options;
  options.sync = true;
  const rocksdb::Status s = write(options, &batch);
  if (!s.ok()) return unavailable_from(s, "the write-ahead log still fails");
  return Status::ok();
}

Status StoreDb::reopen() {
  std::unique_lock gate(gate_);  // waits for the reads and writes under way
  // The first reopen after a failure learns what was applied; a later one
  // (the first could not open for writing) keeps that bound.
  if (db_ && !replay_up_to_) replay_up_to_ = db_->GetLatestSequenceNumber();
  close_db();
  if (replay_up_to_) wal_filter_ = std::make_unique<ReplayUpTo>(*replay_up_to_);
  const rocksdb::Status s = open_db(false, wal_filter_.get());
  if (s.ok()) {
    replay_up_to_.reset();
  } else {
    open_db(true, wal_filter_.get()).PermitUncheckedError();
  }
  gate.unlock();
  if (!s.ok()) return unavailable_from(s, "cannot reopen the store");
  return Status::ok();
}

}  // namespace errand::embedded
