// WorkerJob: one leased job inside a Worker, from lease to reported outcome.
// It is the JobContext its handler sees, and the record the heartbeat thread
// renews: progress not sent yet, the local lease deadline, and the flags a
// heartbeat answer sets (cancel requested, lease lost).
//
// progress() sends its heartbeat at once, through the sender the executor
// installs while the handler runs (its own Client, on its own thread), so
// every report reaches the timeline, in order, before the job's outcome.
// What cannot be sent now waits here for the heartbeat thread.
//
// Thread-safe: the handler's threads, its executor thread and the heartbeat
// thread share it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "errand/worker.hpp"

namespace errand::client_detail {

using SteadyTime = std::chrono::steady_clock::time_point;

class WorkerJob final : public JobContext {
 public:
  using ProgressSender = std::function<void(WorkerJob&, Progress)>;

  // `lease_deadline`: when the lease runs out by this machine's clock (the
  // lease's duration after the request that got it was sent, so never later
  // than the server's). `on_pending_progress` wakes the heartbeat thread.
  WorkerJob(LeasedJob job, SteadyTime lease_deadline, SteadyTime first_heartbeat,
            const std::atomic<bool>& worker_stopping, std::function<void()> on_pending_progress);

  // Installs (or, with nullptr, removes) what progress() sends through.
  // Removing it waits for a send in progress.
  void set_progress_sender(ProgressSender sender);

  // JobContext
  [[nodiscard]] const LeasedJob& job() const override { return job_; }
  void progress(int percent, std::string message = {},
                std::optional<std::string> data = std::nullopt) override;
  [[nodiscard]] bool cancel_requested() const override { return cancel_requested_.load(); }
  [[nodiscard]] bool lease_lost() const override { return lease_lost_.load(); }
  [[nodiscard]] bool stopping() const override { return worker_stopping_.load(); }
  bool wait_for_cancel(std::chrono::milliseconds d) const override;

  // The heartbeat thread's side.
  // Due for a heartbeat at `now`: its time came, or progress is waiting.
  [[nodiscard]] bool heartbeat_due(SteadyTime now) const;
  // When the next heartbeat is due; max() once no more are needed.
  [[nodiscard]] SteadyTime next_heartbeat() const;
  // Takes the pending progress, if any, to send with a heartbeat.
  std::optional<Progress> take_progress();
  // Progress that could not be sent: the heartbeat thread sends it at
  // `retry_at`, unless newer progress replaces it first.
  void keep_progress(Progress p, SteadyTime retry_at);
  // A heartbeat carrying `sent` failed: as keep_progress, unless newer
  // progress came meanwhile.
  void return_progress(Progress sent, SteadyTime retry_at);
  void schedule_heartbeat(SteadyTime at);
  void renewed(SteadyTime lease_deadline);
  void mark_cancel_requested();
  void mark_lease_lost();
  // The handler returned: no more heartbeats.
  void finish();
  [[nodiscard]] SteadyTime lease_deadline() const;

 private:
  const LeasedJob job_;
  const std::atomic<bool>& worker_stopping_;
  const std::function<void()> on_pending_progress_;
  std::mutex send_mutex_;  // one progress send at a time: the sender's Client is not thread-safe
  ProgressSender sender_;  // GUARDED_BY(send_mutex_)
  std::atomic<bool> cancel_requested_{false};
  std::atomic<bool> lease_lost_{false};

  mutable std::mutex mutex_;
  mutable std::condition_variable woken_;     // cancel requested or lease lost
  std::optional<Progress> pending_progress_;  // GUARDED_BY(mutex_)
  SteadyTime progress_due_;                   // GUARDED_BY(mutex_)
  SteadyTime lease_deadline_;                 // GUARDED_BY(mutex_)
  SteadyTime next_heartbeat_;                 // GUARDED_BY(mutex_)
  bool finished_ = false;                     // GUARDED_BY(mutex_)
};

// Cuts `s` to at most `max_bytes` without splitting a UTF-8 sequence (the
// server limits error messages and progress text by bytes).
std::string truncate_utf8(std::string s, std::size_t max_bytes);

}  // namespace errand::client_detail
