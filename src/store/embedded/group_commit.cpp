#include "store/embedded/group_commit.hpp"

#include <chrono>

namespace errand::embedded {

GroupCommitter::GroupCommitter(rocksdb::DB* db, Durability durability, Observer observer)
    : db_(db), observer_(std::move(observer)) {
  options_.sync = durability == Durability::kFsync;
  options_.disableWAL = durability == Durability::kMemory;
  writer_ = std::thread([this] { run(); });
}

GroupCommitter::~GroupCommitter() { stop(); }

void GroupCommitter::append(const std::function<void(rocksdb::WriteBatch&)>& fill,
                            Completion done) {
  {
    std::lock_guard lock(mutex_);
    fill(open_);
    waiting_.push_back(std::move(done));
  }
  wake_.notify_one();
}

void GroupCommitter::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
}

void GroupCommitter::run() {
  rocksdb::WriteBatch batch;
  std::vector<Completion> done;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return !waiting_.empty() || stopping_; });
      if (waiting_.empty()) return;  // stopping, and nothing left to write
      std::swap(batch, open_);
      std::swap(done, waiting_);
    }
    // While this write (and its fsync) runs, new requests fill open_: they
    // form the next group.
    const auto started = std::chrono::steady_clock::now();
    const rocksdb::Status s = db_->Write(options_, &batch);
    if (s.ok() && observer_) {
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
      observer_(CommitStats{took.count(), done.size()});
    }
    Status status;
    if (!s.ok()) {
      status = s.IsNoSpace() ? Status(Code::kInsufficientStorage, "disk full: " + s.ToString())
                             : unavailable("store write failed: " + s.ToString());
    }
    for (auto& d : done) d(status);
    batch.Clear();
    done.clear();
  }
}

}  // namespace errand::embedded
