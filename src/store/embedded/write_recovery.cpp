// The embedded Broker after a disk failure (docs/durability.md): a write that
// fails stops writing, reads go on, and writing resumes on its own once the
// disk takes writes again. Each episode logs one error and, at its end, one
// line saying how long it lasted.
#include "logging/log.hpp"
#include "store/embedded/broker_impl.hpp"

namespace errand::embedded::detail {
namespace {

std::string what_failed(Code code) {
  return code == Code::kInsufficientStorage ? "the disk is full" : "the disk failed a write";
}

}  // namespace

Status EmbeddedBroker::write_refused() {
  if (stopping_) return stopped();
  if (write_error_.is_ok()) return Status::ok();
  ++writes_refused_;
  const bool full = write_error_.code() == Code::kInsufficientStorage;
  return Status(write_error_.code(),
                what_failed(write_error_.code()) + ": the store takes no writes since " +
                    format_rfc3339(write_error_at_) + "; it resumes on its own once " +
                    (full ? "space is free" : "the disk works again"));
}

Status EmbeddedBroker::on_write_failed(const Status& failure) {
  std::lock_guard lock(mutex_);
  const Status answer(failure.code(), what_failed(failure.code()) + ": the change was not stored");
  if (!write_error_.is_ok()) return answer;  // the first failure of this episode did the rest
  write_error_ = failure;
  write_error_at_ = now_millis();
  writes_refused_ = 0;
  healthy_ = false;
  log::error("the store cannot write: writes are refused until the disk works again",
             {{"reason", failure.message()}, {"retry_ms", options_.write_retry_ms}});
  if (!stopping_) {
    // Memory holds the changes of the write that failed, and of those queued
    // behind it (which fail too, unwritten): reads must not show them.
    if (Status s = load_from_store(); !s.is_ok()) {
      log::error("cannot reload the store after a failed write", {{"reason", s.message()}});
    }
  }
  timer_wake_.notify_one();  // run_timers() tries to write again
  return answer;
}

void EmbeddedBroker::try_to_write_again(std::unique_lock<IndexMutex>& lock) {
  lock.unlock();
  // The groups appended before the failure was seen fail as well (the
  // committer stopped writing); none may still be under way at the reopen.
  committer_.wait_idle();
  const Status probe = db_->probe();
  lock.lock();
  if (stopping_ || write_error_.is_ok()) return;
  if (!probe.is_ok()) {
    log::debug("the store still cannot write", {{"reason", probe.message()}});
    return;
  }
  // With mutex_ held nothing fills a batch while the column families change.
  Status reopened = db_->reopen();
  if (reopened.is_ok()) reopened = db_->probe_log();
  if (!reopened.is_ok()) {
    log::debug("the store still cannot write", {{"reason", reopened.message()}});
    return;
  }
  if (Status s = load_from_store(); !s.is_ok()) {
    log::error("cannot reload the store after reopening it", {{"reason", s.message()}});
    return;
  }
  committer_.resume();
  log::info("the store writes again",
            {{"down_ms", now_millis() - write_error_at_},
             {"writes_refused", static_cast<std::int64_t>(writes_refused_)}});
  write_error_ = Status::ok();
  healthy_ = true;
  lock.unlock();
  // Long polls and waits re-read: jobs may have become ready meanwhile.
  waiters_.notify_everyone();
  lock.lock();
}

}  // namespace errand::embedded::detail
