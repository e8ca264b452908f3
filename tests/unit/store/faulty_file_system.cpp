#include "faulty_file_system.hpp"

#include <unistd.h>

#include <cctype>
#include <string_view>
#include <utility>

namespace errand::testing {
namespace {

using rocksdb::IOStatus;

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string without_trailing_slash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

bool is_wal(const std::string& path) {
  const std::string base = base_of(path);
  return base.size() > 4 && std::isdigit(static_cast<unsigned char>(base[0])) &&
         std::string_view(base).ends_with(".log");
}

IOStatus injected(FaultyFileSystem::Error error) {
  if (error == FaultyFileSystem::Error::kNoSpace) {
    // As RocksDB's POSIX file system reports ENOSPC.
    IOStatus s = IOStatus::NoSpace("injected fault", "No space left on device");
    s.SetRetryable(true);
    return s;
  }
  return IOStatus::IOError("injected fault", "Input/output error");
}

class FaultyWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyWritableFile(FaultyFileSystem& fs, std::string fname,
                     std::unique_ptr<rocksdb::FSWritableFile> target)
      : FSWritableFileOwnerWrapper(std::move(target)), fs_(fs), fname_(std::move(fname)) {}

  IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                  rocksdb::IODebugContext* dbg) override {
    IOStatus s = fs_.check(FaultyFileSystem::Op::kWrite, fname_);
    if (s.ok()) s = target()->Append(data, options, dbg);
    if (s.ok()) fs_.appended(fname_, data.size());
    return s;
  }
  IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                  const rocksdb::DataVerificationInfo& info,
                  rocksdb::IODebugContext* dbg) override {
    IOStatus s = fs_.check(FaultyFileSystem::Op::kWrite, fname_);
    if (s.ok()) s = target()->Append(data, options, info, dbg);
    if (s.ok()) fs_.appended(fname_, data.size());
    return s;
  }
  // Only direct I/O writes at an offset; the store does not use it.
  IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t, const rocksdb::IOOptions&,
                            rocksdb::IODebugContext*) override {
    return IOStatus::NotSupported("PositionedAppend");
  }
  IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t, const rocksdb::IOOptions&,
                            const rocksdb::DataVerificationInfo&,
                            rocksdb::IODebugContext*) override {
    return IOStatus::NotSupported("PositionedAppend");
  }
  IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                    rocksdb::IODebugContext* dbg) override {
    IOStatus s = fs_.check(FaultyFileSystem::Op::kWrite, fname_);
    if (s.ok()) s = target()->Truncate(size, options, dbg);
    if (s.ok()) fs_.truncated(fname_, size);
    return s;
  }
  IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    IOStatus s = fs_.check(FaultyFileSystem::Op::kSync, fname_);
    if (s.ok()) s = target()->Sync(options, dbg);
    if (s.ok()) fs_.synced(fname_);
    return s;
  }
  IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    IOStatus s = fs_.check(FaultyFileSystem::Op::kSync, fname_);
    if (s.ok()) s = target()->Fsync(options, dbg);
    if (s.ok()) fs_.synced(fname_);
    return s;
  }
  // Preallocation changes neither a file's length nor its contents; on tmpfs
  // it would allocate (and zero) RocksDB's whole preallocation block of tens
  // of MiB per write-ahead log, most of a short test run's time.
  void PrepareWrite(size_t, size_t, const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {}
  IOStatus Allocate(uint64_t, uint64_t, const rocksdb::IOOptions&,
                    rocksdb::IODebugContext*) override {
    return IOStatus::OK();
  }
  // Starts writeback of a range: durable neither for data nor for metadata.
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& options,
                     rocksdb::IODebugContext* dbg) override {
    IOStatus s = fs_.disk_call();
    if (s.ok()) s = target()->RangeSync(offset, nbytes, options, dbg);
    return s;
  }

 private:
  FaultyFileSystem& fs_;
  const std::string fname_;
};

class FaultyDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  FaultyDirectory(FaultyFileSystem& fs, std::string name,
                  std::unique_ptr<rocksdb::FSDirectory> target)
      : FSDirectoryWrapper(std::move(target)), fs_(fs), name_(std::move(name)) {}

  IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    IOStatus s = fs_.check(FaultyFileSystem::Op::kSync, name_);
    if (s.ok()) s = FSDirectoryWrapper::Fsync(options, dbg);
    if (s.ok()) fs_.directory_synced(name_);
    return s;
  }
  IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg,
                               const rocksdb::DirFsyncOptions& dir_options) override {
    IOStatus s = fs_.check(FaultyFileSystem::Op::kSync, name_);
    if (s.ok()) s = FSDirectoryWrapper::FsyncWithDirOptions(options, dbg, dir_options);
    if (s.ok()) fs_.directory_synced(name_);
    return s;
  }

 private:
  FaultyFileSystem& fs_;
  const std::string name_;
};

}  // namespace

FaultyFileSystem::FaultyFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

// ---- Faults -------------------------------------------------------------------------

void FaultyFileSystem::inject(const Fault& fault) {
  std::lock_guard lock(mutex_);
  fault_ = fault;
  fault_passed_ = 0;
}

void FaultyFileSystem::clear() {
  std::lock_guard lock(mutex_);
  fault_.reset();
}

std::uint64_t FaultyFileSystem::faults_hit() const {
  std::lock_guard lock(mutex_);
  return faults_hit_;
}

IOStatus FaultyFileSystem::disk_call() {
  std::lock_guard lock(mutex_);
  ++disk_calls_;
  if (!crashed_ && crash_at_ && disk_calls_ >= *crash_at_) crashed_ = true;
  if (crashed_) return IOStatus::IOError("simulated power loss: the machine is off");
  return IOStatus::OK();
}

IOStatus FaultyFileSystem::check(Op op, const std::string& fname) {
  if (IOStatus s = disk_call(); !s.ok()) return s;
  std::unique_lock lock(mutex_);
  if (op == Op::kSync && holding_wal_syncs_ && is_wal(fname)) {
    ++wal_syncs_held_;
    released_.wait(lock, [this] { return !holding_wal_syncs_; });
    --wal_syncs_held_;
  }
  if (!fault_ || fault_->op != op) return IOStatus::OK();
  if (fault_->files == Files::kWal && !is_wal(fname)) return IOStatus::OK();
  if (fault_passed_ < fault_->pass_first) {
    ++fault_passed_;
    return IOStatus::OK();
  }
  ++faults_hit_;
  return injected(fault_->error);
}

// ---- A slow disk --------------------------------------------------------------------

void FaultyFileSystem::hold_wal_syncs() {
  std::lock_guard lock(mutex_);
  holding_wal_syncs_ = true;
}

void FaultyFileSystem::release_wal_syncs() {
  {
    std::lock_guard lock(mutex_);
    holding_wal_syncs_ = false;
  }
  released_.notify_all();
}

int FaultyFileSystem::wal_syncs_held() const {
  std::lock_guard lock(mutex_);
  return wal_syncs_held_;
}

// ---- Power loss ---------------------------------------------------------------------

void FaultyFileSystem::crash() {
  std::lock_guard lock(mutex_);
  crashed_ = true;
}

void FaultyFileSystem::crash_after(std::uint64_t calls) {
  std::lock_guard lock(mutex_);
  crash_at_ = disk_calls_ + calls;
}

bool FaultyFileSystem::crashed() const {
  std::lock_guard lock(mutex_);
  return crashed_;
}

std::uint64_t FaultyFileSystem::disk_calls() const {
  std::lock_guard lock(mutex_);
  return disk_calls_;
}

FaultyFileSystem::Dropped FaultyFileSystem::drop_unsynced_data() {
  std::lock_guard lock(mutex_);
  Dropped d;
  const rocksdb::IOOptions io;
  for (const auto& [dir, names] : pending_) {
    for (const auto& [name, previous] : names) {
      const std::string path = dir + "/" + name;
      files_.erase(path);
      if (!previous) {
        target()->DeleteFile(path, io, nullptr).PermitUncheckedError();
        ++d.files_removed;
        continue;
      }
      std::unique_ptr<rocksdb::FSWritableFile> f;
      if (target()->NewWritableFile(path, {}, &f, nullptr).ok()) {
        f->Append(*previous, io, nullptr).PermitUncheckedError();
        f->Close(io, nullptr).PermitUncheckedError();
      }
      ++d.files_restored;
    }
  }
  pending_.clear();
  for (const auto& [path, state] : files_) {
    if (state.written <= state.synced) continue;
    // RocksDB's POSIX file system has no Truncate: the power cut is the OS's.
    if (::truncate(path.c_str(), static_cast<off_t>(state.synced)) != 0) continue;
    ++d.files_cut;
    d.bytes_cut += state.written - state.synced;
  }
  files_.clear();
  return d;
}

void FaultyFileSystem::revive() {
  std::lock_guard lock(mutex_);
  crashed_ = false;
  crash_at_.reset();
  disk_calls_ = 0;
  fault_.reset();
  files_.clear();
  pending_.clear();
}

// ---- Tracking -----------------------------------------------------------------------

void FaultyFileSystem::created_locked(const std::string& fname) {
  files_[fname] = FileState{};
  PendingNames& names = pending_[dir_of(fname)];
  const std::string base = base_of(fname);
  if (names.count(base)) return;  // already new since the last directory fsync
  // A file that existed keeps its name: only its contents are new.
  if (!target()->FileExists(fname, {}, nullptr).ok()) names.emplace(base, std::nullopt);
}

void FaultyFileSystem::forget_locked(const std::string& fname) {
  files_.erase(fname);
  if (auto it = pending_.find(dir_of(fname)); it != pending_.end())
    it->second.erase(base_of(fname));
}

void FaultyFileSystem::appended(const std::string& fname, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  if (auto it = files_.find(fname); it != files_.end()) it->second.written += bytes;
}

void FaultyFileSystem::truncated(const std::string& fname, std::uint64_t size) {
  std::lock_guard lock(mutex_);
  if (auto it = files_.find(fname); it != files_.end()) {
    it->second.written = size;
    it->second.synced = std::min(it->second.synced, size);
  }
}

void FaultyFileSystem::synced(const std::string& fname) {
  std::lock_guard lock(mutex_);
  if (auto it = files_.find(fname); it != files_.end()) it->second.synced = it->second.written;
}

void FaultyFileSystem::directory_synced(const std::string& dir) {
  std::lock_guard lock(mutex_);
  pending_.erase(without_trailing_slash(dir));
}

// ---- rocksdb::FileSystem -------------------------------------------------------------

IOStatus FaultyFileSystem::NewWritableFile(const std::string& fname,
                                           const rocksdb::FileOptions& options,
                                           std::unique_ptr<rocksdb::FSWritableFile>* result,
                                           rocksdb::IODebugContext* dbg) {
  if (IOStatus s = disk_call(); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  created_locked(fname);  // before the call: it reads what the name held
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus s = target()->NewWritableFile(fname, options, &file, dbg);
  if (!s.ok()) {
    forget_locked(fname);
    return s;
  }
  *result = std::make_unique<FaultyWritableFile>(*this, fname, std::move(file));
  return s;
}

IOStatus FaultyFileSystem::ReopenWritableFile(const std::string& fname,
                                              const rocksdb::FileOptions& options,
                                              std::unique_ptr<rocksdb::FSWritableFile>* result,
                                              rocksdb::IODebugContext* dbg) {
  if (IOStatus s = disk_call(); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  const bool existed = target()->FileExists(fname, {}, nullptr).ok();
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus s = target()->ReopenWritableFile(fname, options, &file, dbg);
  if (!s.ok()) return s;
  if (!existed) {
    created_locked(fname);
  } else if (!files_.count(fname)) {
    std::uint64_t size = 0;
    target()->GetFileSize(fname, {}, &size, nullptr).PermitUncheckedError();
    files_[fname] = FileState{size, size};  // what was there before counts as durable
  }
  *result = std::make_unique<FaultyWritableFile>(*this, fname, std::move(file));
  return s;
}

IOStatus FaultyFileSystem::ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                             const rocksdb::FileOptions& options,
                                             std::unique_ptr<rocksdb::FSWritableFile>* result,
                                             rocksdb::IODebugContext* dbg) {
  if (IOStatus s = disk_call(); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus s = target()->ReuseWritableFile(fname, old_fname, options, &file, dbg);
  if (!s.ok()) return s;
  forget_locked(old_fname);
  created_locked(fname);
  *result = std::make_unique<FaultyWritableFile>(*this, fname, std::move(file));
  return s;
}

IOStatus FaultyFileSystem::NewRandomRWFile(const std::string& fname,
                                           const rocksdb::FileOptions& options,
                                           std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                           rocksdb::IODebugContext* dbg) {
  // Untracked: the store never writes files in place.
  if (IOStatus s = disk_call(); !s.ok()) return s;
  return target()->NewRandomRWFile(fname, options, result, dbg);
}

IOStatus FaultyFileSystem::NewDirectory(const std::string& name, const rocksdb::IOOptions& options,
                                        std::unique_ptr<rocksdb::FSDirectory>* result,
                                        rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> dir;
  IOStatus s = target()->NewDirectory(name, options, &dir, dbg);
  if (!s.ok()) return s;
  *result = std::make_unique<FaultyDirectory>(*this, without_trailing_slash(name), std::move(dir));
  return s;
}

IOStatus FaultyFileSystem::DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                                      rocksdb::IODebugContext* dbg) {
  if (IOStatus s = disk_call(); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  IOStatus s = target()->DeleteFile(fname, options, dbg);
  if (s.ok()) forget_locked(fname);
  return s;
}

IOStatus FaultyFileSystem::RenameFile(const std::string& src, const std::string& dst,
                                      const rocksdb::IOOptions& options,
                                      rocksdb::IODebugContext* dbg) {
  if (IOStatus s = disk_call(); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  std::optional<std::string> previous;
  if (std::string contents; rocksdb::ReadFileToString(target(), dst, &contents).ok()) {
    previous = std::move(contents);
  }
  IOStatus s = target()->RenameFile(src, dst, options, dbg);
  if (!s.ok()) return s;
  if (auto moved = files_.find(src); moved != files_.end()) {
    files_[dst] = moved->second;
    files_.erase(moved);
  } else {
    files_.erase(dst);
  }
  if (auto it = pending_.find(dir_of(src)); it != pending_.end()) it->second.erase(base_of(src));
  // A name already new since the last directory fsync keeps what it held before that.
  pending_[dir_of(dst)].emplace(base_of(dst), std::move(previous));
  return s;
}

IOStatus FaultyFileSystem::LinkFile(const std::string& src, const std::string& dst,
                                    const rocksdb::IOOptions& options,
                                    rocksdb::IODebugContext* dbg) {
  if (IOStatus s = disk_call(); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  IOStatus s = target()->LinkFile(src, dst, options, dbg);
  if (!s.ok()) return s;
  if (auto it = files_.find(src); it != files_.end()) files_[dst] = it->second;
  pending_[dir_of(dst)].emplace(base_of(dst), std::nullopt);
  return s;
}

IOStatus FaultyFileSystem::Truncate(const std::string& fname, size_t size,
                                    const rocksdb::IOOptions& options,
                                    rocksdb::IODebugContext* dbg) {
  if (IOStatus s = disk_call(); !s.ok()) return s;
  IOStatus s = target()->Truncate(fname, size, options, dbg);
  if (s.ok()) truncated(fname, size);
  return s;
}

IOStatus FaultyFileSystem::CreateDir(const std::string& dirname, const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) {
  if (IOStatus s = disk_call(); !s.ok()) return s;
  return target()->CreateDir(dirname, options, dbg);
}

IOStatus FaultyFileSystem::CreateDirIfMissing(const std::string& dirname,
                                              const rocksdb::IOOptions& options,
                                              rocksdb::IODebugContext* dbg) {
  if (IOStatus s = disk_call(); !s.ok()) return s;
  return target()->CreateDirIfMissing(dirname, options, dbg);
}

IOStatus FaultyFileSystem::DeleteDir(const std::string& dirname, const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) {
  if (IOStatus s = disk_call(); !s.ok()) return s;
  return target()->DeleteDir(dirname, options, dbg);
}

}  // namespace errand::testing
