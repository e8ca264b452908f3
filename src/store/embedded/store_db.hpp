// StoreDb: the RocksDB database under the embedded store, with its column
// families, plus what RocksDB has no call for: reopening it in place.
//
// After a failed write (an I/O error or a full disk on the write-ahead log,
// a flush or the MANIFEST) RocksDB refuses every later write; for an I/O
// error that state is final for the instance (DB::Resume() refuses "fatal"
// errors, and after a failed log write the log writer stays broken unless a
// memtable switch replaces it). reopen() closes the database and opens it
// again. It replays only the log records of writes that succeeded: a record
// whose write failed (its fsync did, say) may sit at the end of the log, and
// it was answered as failed, so it must not come back.
//
// While the disk still fails, the database stays open for reads: reopen() is
// tried once probe() shows that a file can be written and synced again.
//
// Thread-safe. Reads and writes run concurrently from any thread; reopen()
// waits until those under way are done and holds new ones back until it has
// finished. A thread must not start a read while it holds a Cursor (reopen()
// could be waiting between the two).
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/file_system.h>
#include <rocksdb/wal_filter.h>
#include <rocksdb/write_batch.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace errand::embedded {

struct StoreDbOptions {
  std::string path;
  // Opened (created when missing) besides "default", which stays unused;
  // index i in the calls below is column_families[i].
  std::vector<std::string> column_families;
  // Tests inject faults here (a FileSystemWrapper); null: the OS's.
  std::shared_ptr<rocksdb::FileSystem> file_system;
  // Each column family's memtable_insert_with_hint_prefix_extractor
  // (store/embedded/insert_hints.hpp), in column_families order; none when
  // missing or null.
  std::vector<std::shared_ptr<const rocksdb::SliceTransform>> insert_hints;
};

class StoreDb {
 public:
  static Result<std::unique_ptr<StoreDb>> open(StoreDbOptions options);
  ~StoreDb();
  StoreDb(const StoreDb&) = delete;
  StoreDb& operator=(const StoreDb&) = delete;

  rocksdb::Status get(std::size_t cf, std::string_view key, std::string* value);
  // get() of every key at once (one lookup setup for all; a lease answers
  // with up to a hundred payloads): values[i] is keys[i]'s, empty when it
  // has none or its read failed.
  void get_all(std::size_t cf, const std::vector<std::string_view>& keys,
               std::vector<std::string>& values);
  // How many entries the column family's memtables hold (each put or delete
  // is one, until flushed): what a write costs in memory inserts.
  std::uint64_t entries_in_memory(std::size_t cf);

  // An iterator over one column family that keeps the database open while it
  // lives. Not thread-safe.
  class Cursor {
   public:
    Cursor(Cursor&&) noexcept;
    ~Cursor();
    rocksdb::Iterator* operator->() const { return it_.get(); }

   private:
    friend class StoreDb;
    Cursor(StoreDb* db, std::unique_ptr<rocksdb::Iterator> it) : db_(db), it_(std::move(it)) {}
    StoreDb* db_;
    std::unique_ptr<rocksdb::Iterator> it_;
  };
  Cursor scan(std::size_t cf);

  rocksdb::Status write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch* batch);
  // The column family handles, in column_families order, for filling a
  // WriteBatch. REQUIRES: the caller keeps reopen() from running until the
  // batch is filled (the broker holds its mutex for both).
  rocksdb::ColumnFamilyHandle* const* handles() const { return handles_.data(); }

  // Writes every memtable to disk (--durability memory keeps no log).
  rocksdb::Status flush();

  // Whether the disk takes a small write and its fsync again: a file in the
  // data directory is written, synced and removed.
  Status probe();

  // Whether the write-ahead log takes a synced write again: writes one that
  // changes no data (RocksDB's log-data record).
  Status probe_log();

  // Closes the database and opens it again (see above). When it cannot be
  // opened for writing, it is opened read-only, so that reads go on, and the
  // error is returned; the caller tries again later.
  Status reopen();

 private:
  explicit StoreDb(StoreDbOptions options);
  // Opens db_ and handles_; read-only without writing anything when `read_only`.
  // `wal_filter` (may be null) decides which log records are replayed.
  rocksdb::Status open_db(bool read_only, rocksdb::WalFilter* wal_filter);
  void close_db();

  const StoreDbOptions options_;
  std::shared_ptr<rocksdb::FileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;  // over fs_ when one was given
  // Changed only with the gate closed. db_ is null while closed (no reopen
  // worked yet); the WAL filter of its last open lives as long as it does.
  std::unique_ptr<rocksdb::WalFilter> wal_filter_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  // The last sequence number applied before the failure, until a reopen for
  // writing succeeds: log records past it are not replayed.
  std::optional<rocksdb::SequenceNumber> replay_up_to_;

  // Gets, cursors and writes hold it shared; reopen() holds it exclusively.
  std::shared_mutex gate_;
};

}  // namespace errand::embedded
