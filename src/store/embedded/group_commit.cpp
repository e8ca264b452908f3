#include "store/embedded/group_commit.hpp"

#include <algorithm>
#include <chrono>

namespace errand::embedded {

GroupCommitter::GroupCommitter(StoreDb& db, Durability durability, Observer observer)
    : db_(db), observer_(std::move(observer)) {
  options_.sync = durability == Durability::kFsync;
  options_.disableWAL = durability == Durability::kMemory;
  writer_ = std::thread([this] { run(); });
}

GroupCommitter::~GroupCommitter() { stop(); }

void GroupCommitter::append(const std::function<void(rocksdb::WriteBatch&)>& fill, Completion done,
                            std::vector<LastPut> last) {
  {
    std::lock_guard lock(mutex_);
    fill(open_);
    for (auto& put : last) {
      // Few keys a group (the queues it touched): a scan beats a map.
      auto same = std::find_if(open_last_.begin(), open_last_.end(), [&](const LastPut& p) {
        return p.cf == put.cf && p.key == put.key;
      });
      if (same == open_last_.end()) {
        open_last_.push_back(std::move(put));
      } else {
        same->value = std::move(put.value);
      }
    }
    waiting_.push_back(std::move(done));
  }
  wake_.notify_one();
}

void GroupCommitter::when_written(Completion done) {
  {
    std::lock_guard lock(mutex_);
    if (!waiting_.empty()) return after_open_.push_back(std::move(done));
    if (writing_) return after_writing_.push_back(std::move(done));
  }
  done(Status::ok());
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

void GroupCommitter::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return waiting_.empty() && !writing_; });
}

void GroupCommitter::resume() {
  std::lock_guard lock(mutex_);
  failure_ = Status::ok();
}

Status GroupCommitter::write_group(rocksdb::WriteBatch& batch, std::size_t changes) {
  {
    std::lock_guard lock(mutex_);
    if (!failure_.is_ok()) return failure_;
  }
  const auto started = std::chrono::steady_clock::now();
  const rocksdb::Status s = db_.write(options_, &batch);
  if (observer_) {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    observer_(CommitStats{took.count(), changes, !s.ok()});
  }
  if (s.ok()) return Status::ok();
  Status failure = s.IsNoSpace() ? Status(Code::kInsufficientStorage, "disk full: " + s.ToString())
                                 : unavailable("store write failed: " + s.ToString());
  std::lock_guard lock(mutex_);
  failure_ = failure;
  return failure;
}

void GroupCommitter::run() {
  rocksdb::WriteBatch batch;
  std::vector<LastPut> last;
  std::vector<Completion> done;
  std::vector<Completion> after;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (waiting_.empty()) idle_.notify_all();
      wake_.wait(lock, [&] { return !waiting_.empty() || stopping_; });
      if (waiting_.empty()) return;  // stopping, and nothing left to write
      std::swap(batch, open_);
      std::swap(last, open_last_);
      std::swap(done, waiting_);
      std::swap(after_writing_, after_open_);  // after_writing_ was empty
      writing_ = true;
    }
    for (const auto& put : last) batch.Put(put.cf, put.key, put.value);
    last.clear();
    // While this write (and its fsync) runs, new requests fill open_: they
    // form the next group.
    const Status status = write_group(batch, done.size());
    for (auto& d : done) d(status);
    // Until none is left: a completion may wait for this group too. The group
    // ends (writing_) in the same lock that finds none left.
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (after_writing_.empty()) {
          writing_ = false;
          break;
        }
        std::swap(after, after_writing_);
      }
      for (auto& a : after) a(status);
      after.clear();
    }
    batch.Clear();
    done.clear();
  }
}

}  // namespace errand::embedded
