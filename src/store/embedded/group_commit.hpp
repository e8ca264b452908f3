// GroupCommitter: many concurrent requests, one fsync. Requests append their
// changes to the open WriteBatch; one writer thread writes the batch (with
// sync under --durability fsync), then runs every request's completion.
// Completions run in append order, after the write they belong to.
// An observer, when given, learns each successful group's write time and size
// before its completions run.
//
// Thread-safe.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.hpp"
#include "engine/change_feed.hpp"

namespace errand::embedded {

enum class Durability { kFsync, kOs, kMemory };

class GroupCommitter {
 public:
  using Completion = std::function<void(const Status&)>;

  using Observer = std::function<void(const CommitStats&)>;

  // `observer` (may be empty) runs on the writer thread and must be quick.
  GroupCommitter(rocksdb::DB* db, Durability durability, Observer observer = {});
  ~GroupCommitter();  // finishes every appended write

  // Runs `fill` on the open batch and queues `done` for when it is written.
  // Changes appended by one thread in order are written in that order.
  void append(const std::function<void(rocksdb::WriteBatch&)>& fill, Completion done);
  // Writes what is pending, then stops the writer thread. Idempotent.
  void stop();

 private:
  void run();

  rocksdb::DB* db_;
  rocksdb::WriteOptions options_;
  const Observer observer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  rocksdb::WriteBatch open_;         // GUARDED_BY(mutex_)
  std::vector<Completion> waiting_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;            // GUARDED_BY(mutex_)
  std::thread writer_;
};

}  // namespace errand::embedded
