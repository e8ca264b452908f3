#include "client/worker_job.hpp"

#include <algorithm>

#include "client/json_mapping.hpp"

namespace errand {

JobFailure::JobFailure(std::string message, std::string type, std::string detail, bool retry,
                       std::optional<std::int64_t> retry_in_ms)
    : std::runtime_error(message),
      request_{std::move(message), std::move(type), std::move(detail), retry, retry_in_ms} {}

}  // namespace errand

namespace errand::client_detail {
namespace {

// The server's limit on a progress message.
constexpr std::size_t kMaxProgressMessageBytes = 4096;

}  // namespace

std::string truncate_utf8(std::string s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  return s;
}

WorkerJob::WorkerJob(LeasedJob job, SteadyTime lease_deadline, SteadyTime first_heartbeat,
                     const std::atomic<bool>& worker_stopping,
                     std::function<void()> on_pending_progress)
    : job_(std::move(job)),
      worker_stopping_(worker_stopping),
      on_pending_progress_(std::move(on_pending_progress)),
      lease_deadline_(lease_deadline),
      next_heartbeat_(first_heartbeat) {}

void WorkerJob::set_progress_sender(ProgressSender sender) {
  std::lock_guard lock(send_mutex_);
  sender_ = std::move(sender);
}

void WorkerJob::progress(int percent, std::string message, std::optional<std::string> data) {
  // Checked here, in the handler, where a mistake can be seen: the heartbeat
  // thread could only log it.
  if (data) require_json(*data, "progress data");
  Progress p{std::clamp(percent, 0, 100),
             truncate_utf8(std::move(message), kMaxProgressMessageBytes), std::move(data)};
  std::lock_guard lock(send_mutex_);
  if (sender_) {
    sender_(*this, std::move(p));
  } else {
    // The handler returned but a thread of its own still reports: too late
    // to send before the outcome, so it goes with the next heartbeat, if any.
    keep_progress(std::move(p), SteadyTime::min());
  }
}

bool WorkerJob::wait_for_cancel(std::chrono::milliseconds d) const {
  std::unique_lock lock(mutex_);
  return woken_.wait_for(lock, d, [this] { return cancel_requested_ || lease_lost_; });
}

bool WorkerJob::heartbeat_due(SteadyTime now) const {
  std::lock_guard lock(mutex_);
  return !finished_ && ((pending_progress_ && progress_due_ <= now) || next_heartbeat_ <= now);
}

SteadyTime WorkerJob::next_heartbeat() const {
  std::lock_guard lock(mutex_);
  if (finished_) return SteadyTime::max();
  return pending_progress_ ? std::min(progress_due_, next_heartbeat_) : next_heartbeat_;
}

std::optional<Progress> WorkerJob::take_progress() {
  std::lock_guard lock(mutex_);
  auto p = std::move(pending_progress_);
  pending_progress_.reset();
  return p;
}

void WorkerJob::keep_progress(Progress p, SteadyTime retry_at) {
  {
    std::lock_guard lock(mutex_);
    pending_progress_ = std::move(p);
    progress_due_ = retry_at;
  }
  on_pending_progress_();
}

void WorkerJob::schedule_heartbeat(SteadyTime at) {
  std::lock_guard lock(mutex_);
  next_heartbeat_ = at;
}

void WorkerJob::renewed(SteadyTime lease_deadline) {
  std::lock_guard lock(mutex_);
  lease_deadline_ = std::max(lease_deadline_, lease_deadline);
}

void WorkerJob::mark_cancel_requested() {
  {
    std::lock_guard lock(mutex_);
    cancel_requested_ = true;
  }
  woken_.notify_all();
}

void WorkerJob::mark_lease_lost() {
  {
    std::lock_guard lock(mutex_);
    lease_lost_ = true;
  }
  woken_.notify_all();
}

void WorkerJob::finish() {
  std::lock_guard lock(mutex_);
  finished_ = true;
}

void WorkerJob::return_progress(Progress sent, SteadyTime retry_at) {
  {
    std::lock_guard lock(mutex_);
    if (pending_progress_) return;
    pending_progress_ = std::move(sent);
    progress_due_ = retry_at;
  }
  on_pending_progress_();
}

SteadyTime WorkerJob::lease_deadline() const {
  std::lock_guard lock(mutex_);
  return lease_deadline_;
}

}  // namespace errand::client_detail
