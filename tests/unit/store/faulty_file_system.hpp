// FaultyFileSystem: a RocksDB FileSystem for tests, over the real one, that
// can lose power and can fail writes the way a broken or full disk does.
//
// Power loss. It tracks, for every file created through it, how many bytes
// were written and how many a Sync/Fsync made durable, and which new names
// (created or renamed files) an fsync of their directory made durable.
// crash() is the power cut: from then on every call that would change the
// disk fails and changes nothing (the process is dead; RangeSync does not
// count as a sync, since sync_file_range persists no metadata). Once nothing
// uses the files any more, drop_unsynced_data() leaves the disk as the power
// cut would, in the strictest way a POSIX file system may:
//   - a file whose name no directory fsync made durable is gone (even if its
//     contents were synced); a file renamed over another one without a
//     directory fsync since has the other one's contents back;
//   - every other file is cut back to the length its last sync covered.
// Deletions count as durable at once (as in RocksDB's FaultInjectionTestFS):
// a deleted file does not come back. Files that existed before this file
// system was made, or before revive(), count as fully durable.
//
// Faults. inject() makes writes (Append) or syncs (Sync, Fsync, a directory's
// Fsync) fail with EIO or ENOSPC, of every file or of the write-ahead log
// only, after a given number of matching calls have passed, until clear().
// A failed write writes nothing; a failed sync leaves the data written but
// not durable, as after a real failed fsync.
//
// A slow disk. hold_wal_syncs() makes every sync of the write-ahead log wait
// until release_wal_syncs(): a write stays under way as long as a test needs
// (RocksDB puts a synced write in its memtable only after the log's sync).
//
// Preallocation (fallocate) is skipped: it changes no file's length or
// contents, and on tmpfs it costs more than the rest of a short run.
//
// Thread-safe.
#pragma once

#include <rocksdb/file_system.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace errand::testing {

class FaultyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  enum class Error { kIo, kNoSpace };
  enum class Op { kWrite, kSync };
  enum class Files { kAll, kWal };  // kWal: RocksDB's write-ahead log files (NNNNNN.log)
  struct Fault {
    Error error = Error::kIo;
    Op op = Op::kWrite;
    Files files = Files::kAll;
    std::uint64_t pass_first = 0;  // matching calls that still succeed
  };

  FaultyFileSystem();
  const char* Name() const override { return "errand.FaultyFileSystem"; }

  // ---- Faults -----------------------------------------------------------------------
  void inject(const Fault& fault);
  void clear();
  // Calls that failed because of inject(), since the file system was made.
  std::uint64_t faults_hit() const;

  // ---- A slow disk -------------------------------------------------------------------
  void hold_wal_syncs();
  void release_wal_syncs();
  // Syncs of the log waiting for release_wal_syncs() now.
  int wal_syncs_held() const;

  // ---- Power loss -------------------------------------------------------------------
  // The power goes off now, or at the n-th call from now that would change
  // the disk (that call fails and changes nothing).
  void crash();
  void crash_after(std::uint64_t calls);
  bool crashed() const;
  // Calls that changed (or tried to change) the disk, since made or revived.
  std::uint64_t disk_calls() const;

  struct Dropped {
    std::uint64_t files_removed = 0;   // created or renamed without a directory fsync
    std::uint64_t files_restored = 0;  // renamed over, back to what they held before
    std::uint64_t files_cut = 0;       // cut back to their synced length
    std::uint64_t bytes_cut = 0;
  };
  // REQUIRES: crashed(), and nothing uses the files (the database is closed).
  Dropped drop_unsynced_data();
  // The power is back: the disk works, and what is on it counts as durable.
  void revive();

  // ---- rocksdb::FileSystem -------------------------------------------------------
  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& src, const std::string& target,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& fname, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& dirname,
                                       const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;

  // For the wrapped files and directories (faulty_file_system.cpp).
  // Counts one call that changes the disk: the error to return when the
  // power is off (or goes off now), else ok.
  rocksdb::IOStatus disk_call();
  // disk_call(), then the injected fault for `op` on `fname`, if one applies.
  rocksdb::IOStatus check(Op op, const std::string& fname);
  void appended(const std::string& fname, std::uint64_t bytes);
  void truncated(const std::string& fname, std::uint64_t size);
  void synced(const std::string& fname);
  void directory_synced(const std::string& dir);

 private:
  struct FileState {
    std::uint64_t written = 0;
    std::uint64_t synced = 0;
  };
  // A name not yet made durable by a directory fsync, and what the name held
  // before (nullopt: nothing, the name is new).
  using PendingNames = std::map<std::string, std::optional<std::string>>;

  // A new file at `fname` (empty), tracked. REQUIRES: mutex_ held.
  void created_locked(const std::string& fname);
  void forget_locked(const std::string& fname);

  mutable std::mutex mutex_;
  bool crashed_ = false;                   // GUARDED_BY(mutex_)
  std::optional<std::uint64_t> crash_at_;  // GUARDED_BY(mutex_): a disk_calls_ value
  std::uint64_t disk_calls_ = 0;           // GUARDED_BY(mutex_)
  std::optional<Fault> fault_;             // GUARDED_BY(mutex_)
  std::uint64_t fault_passed_ = 0;         // GUARDED_BY(mutex_)
  std::uint64_t faults_hit_ = 0;           // GUARDED_BY(mutex_)
  bool holding_wal_syncs_ = false;         // GUARDED_BY(mutex_)
  int wal_syncs_held_ = 0;                 // GUARDED_BY(mutex_)
  std::condition_variable released_;
  std::map<std::string, FileState> files_;       // GUARDED_BY(mutex_)
  std::map<std::string, PendingNames> pending_;  // GUARDED_BY(mutex_): by directory
};

}  // namespace errand::testing
