// GroupCommitter: many concurrent requests, one fsync. Requests append their
// changes to the open WriteBatch; one writer thread writes the batch (with
// sync under --durability fsync), then runs every request's completion.
// Completions run in append order, after the write they belong to.
// A value that every change rewrites (a queue's totals) can be appended as a
// last put: of the last puts at one key in a group only the last is written,
// so a group of a hundred submits to one queue writes its totals once.
// An observer, when given, learns each group's write time and size (and
// whether it failed) before its completions run.
//
// A failed write stops writing: the changes appended after it were made in
// memory on top of the one that failed, so every later group fails with the
// same status, unwritten, until resume() (once the owner has rebuilt its
// memory from the store).
//
// Thread-safe.
#pragma once

#include <rocksdb/write_batch.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.hpp"
#include "engine/change_feed.hpp"
#include "store/embedded/store_db.hpp"

namespace errand::embedded {

enum class Durability { kFsync, kOs, kMemory };

class GroupCommitter {
 public:
  using Completion = std::function<void(const Status&)>;

  using Observer = std::function<void(const CommitStats&)>;

  // A put of which only the group's last at its key is written (see above).
  // `cf` is used when the group is written, not when appended: it must stay
  // valid until then (the broker reopens the store only once this is idle).
  struct LastPut {
    rocksdb::ColumnFamilyHandle* cf;
    std::string key;
    std::string value;
  };

  // `observer` (may be empty) runs on the writer thread and must be quick.
  GroupCommitter(StoreDb& db, Durability durability, Observer observer = {});
  ~GroupCommitter();  // finishes every appended write

  // Runs `fill` on the open batch and queues `done` for when it is written.
  // Changes appended by one thread in order are written in that order; the
  // group's last puts are written after its batch.
  void append(const std::function<void(rocksdb::WriteBatch&)>& fill, Completion done,
              std::vector<LastPut> last = {});
  // Runs `done` once every change appended before this call is written (with
  // the status of the last group it waited for), after their completions,
  // without writing anything itself; at once, on this thread, with ok when
  // nothing is pending. For reads of what memory shows, which may be a
  // commit ahead of the store.
  void when_written(Completion done);
  // Writes what is pending, then stops the writer thread. Idempotent.
  void stop();

  // Waits until every group appended so far has been written (or has failed)
  // and its completions have run. REQUIRES: not called from a completion.
  void wait_idle();
  // Writes again after a failure (see above).
  void resume();

 private:
  void run();

  // The write of one group, or the status of the failure that stopped writing.
  Status write_group(rocksdb::WriteBatch& batch, std::size_t changes);

  StoreDb& db_;
  rocksdb::WriteOptions options_;
  const Observer observer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  rocksdb::WriteBatch open_;         // GUARDED_BY(mutex_)
  std::vector<LastPut> open_last_;   // GUARDED_BY(mutex_): one per key
  std::vector<Completion> waiting_;  // GUARDED_BY(mutex_)
  // when_written() calls that wait for the open group, and for the one being
  // written. GUARDED_BY(mutex_)
  std::vector<Completion> after_open_;
  std::vector<Completion> after_writing_;
  bool writing_ = false;   // GUARDED_BY(mutex_): a group is being written
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  Status failure_;         // GUARDED_BY(mutex_): not ok once a write failed
  std::thread writer_;
};

}  // namespace errand::embedded
