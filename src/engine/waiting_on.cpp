#include "engine/waiting_on.hpp"

#include <algorithm>

namespace errand {
namespace {

// An error message quoted in a sentence is cut to this many bytes.
constexpr std::size_t kQuotedErrorBytes = 200;

// "250 ms", "45 s", "12 min", "3 h", "2 d": rounded down, for sentences.
std::string human_duration(std::int64_t ms) {
  ms = std::max<std::int64_t>(ms, 0);
  if (ms < 1000) return std::to_string(ms) + " ms";
  const std::int64_t s = ms / 1000;
  if (s < 120) return std::to_string(s) + " s";
  if (s < 120 * 60) return std::to_string(s / 60) + " min";
  if (s < 48 * 3600) return std::to_string(s / 3600) + " h";
  return std::to_string(s / 86400) + " d";
}

// "at <time> (in 4 s)", or "(due now)" once the time has come.
std::string at_time(Millis t, Millis now) {
  return "at " + format_rfc3339(t) +
         (t > now ? " (in " + human_duration(t - now) + ")" : std::string(" (due now)"));
}

std::string jobs(std::int64_t n) { return std::to_string(n) + (n == 1 ? " job" : " jobs"); }

// `text` cut to at most `max` bytes on a UTF-8 character boundary, with "…"
// when cut.
std::string shortened(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "\u2026";
}

std::string quoted_queue(const std::string& q) { return "'" + q + "'"; }

}  // namespace

std::string_view to_string(WaitReason r) {
  switch (r) {
    case WaitReason::kScheduled:
      return "scheduled";
    case WaitReason::kBackoff:
      return "backoff";
    case WaitReason::kPaused:
      return "paused";
    case WaitReason::kQueued:
      return "queued";
    case WaitReason::kNoWorkers:
      return "no_workers";
    case WaitReason::kRunning:
      return "running";
  }
  return "queued";
}

std::optional<WaitingOn> explain_wait(const JobRecord& job, const QueueFacts& queue, Millis now) {
  if (is_terminal(job.state)) return std::nullopt;
  WaitingOn w;
  w.queue = job.queue;
  // Precedence (docs/api.md): a running job runs whatever its queue does;
  // otherwise a pause holds the job whatever else it waits for; then its
  // run_at; then, when ready, whether any worker is asking for its queue.
  if (job.state == JobState::kRunning) {
    w.reason = WaitReason::kRunning;
    w.worker = job.worker;
    w.until = job.lease_expires_at;
    w.attempt = job.attempt;
    w.max_attempts = job.max_attempts;
    w.cancel_requested = job.cancel_requested;
    w.message = "running on worker '" + job.worker + "' (attempt " + std::to_string(job.attempt) +
                " of " + std::to_string(job.max_attempts) + ")";
    if (job.lease_expires_at)
      w.message += "; its lease expires " + at_time(*job.lease_expires_at, now);
    if (job.cancel_requested) {
      w.message += "; cancellation was requested and the worker has not stopped yet";
    }
    return w;
  }
  if (queue.paused) {
    w.reason = WaitReason::kPaused;
    w.message = "queue " + quoted_queue(job.queue) +
                " is paused: none of its jobs is leased until it is resumed";
    if (job.state == JobState::kScheduled)
      w.message += "; this one is due " + at_time(job.run_at, now);
    return w;
  }
  if (job.state == JobState::kScheduled) {
    w.until = job.run_at;
    // Only a failed attempt puts a job that was delivered back to scheduled
    // (an admin retry resets attempt to 0 and queues it).
    if (job.attempt > 0) {
      w.reason = WaitReason::kBackoff;
      w.attempt = job.attempt;
      w.max_attempts = job.max_attempts;
      w.last_error = job.error;
      w.message = "backing off after attempt " + std::to_string(job.attempt) + " of " +
                  std::to_string(job.max_attempts) + " failed";
      if (job.error) {
        w.message +=
            " (" + job.error->type + ": " + shortened(job.error->message, kQuotedErrorBytes) + ")";
      }
      w.message += "; next attempt " + at_time(job.run_at, now);
    } else {
      w.reason = WaitReason::kScheduled;
      w.message = "scheduled to run " + at_time(job.run_at, now);
    }
    return w;
  }
  w.ahead = queue.ahead;
  w.ahead_at_least = queue.ahead_at_least;
  const std::string ahead_jobs = (w.ahead_at_least ? "at least " : "") + jobs(w.ahead);
  const Millis idle_since = queue.last_lease_request_at.value_or(queue.tracking_since);
  w.idle_ms = std::max<Millis>(0, now - idle_since);
  if (!queue.asking_now && queue.running == 0 && w.idle_ms > queue.no_worker_after_ms) {
    w.reason = WaitReason::kNoWorkers;
    w.last_lease_request_at = queue.last_lease_request_at;
    w.message = "no worker has asked queue " + quoted_queue(job.queue) + " for jobs " +
                (queue.last_lease_request_at
                     ? "for " + human_duration(w.idle_ms)
                     : "since the server started " + human_duration(w.idle_ms) + " ago");
    w.message += w.ahead == 0 ? "; it is next in line" : "; " + ahead_jobs + " ahead of it";
    return w;
  }
  w.idle_ms = 0;
  w.reason = WaitReason::kQueued;
  w.message =
      w.ahead == 0
          ? "next in line in queue " + quoted_queue(job.queue) + ", waiting for a worker to take it"
          : "queued in " + quoted_queue(job.queue) + " behind " + ahead_jobs + " that run first";
  return w;
}

WorkerActivity::Entry& WorkerActivity::entry(const std::string& queue) {
  auto it = queues_.find(queue);
  if (it != queues_.end()) return it->second;
  if (queues_.size() >= kMaxQueues) {
    // Forget the queue idle the longest; only reached when workers ask for
    // more than kMaxQueues distinct names, so the scan is rare.
    auto oldest = queues_.end();
    for (auto i = queues_.begin(); i != queues_.end(); ++i) {
      if (i->second.open == 0 &&
          (oldest == queues_.end() || i->second.last < oldest->second.last)) {
        oldest = i;
      }
    }
    if (oldest != queues_.end()) queues_.erase(oldest);
  }
  return queues_[queue];
}

void WorkerActivity::started(std::span<const std::string> queues, Millis now) {
  std::lock_guard lock(mutex_);
  for (const auto& q : queues) {
    Entry& e = entry(q);
    ++e.open;
    e.last = std::max(e.last, now);
  }
}

void WorkerActivity::ended(std::span<const std::string> queues, Millis now) {
  std::lock_guard lock(mutex_);
  for (const auto& q : queues) {
    auto it = queues_.find(q);
    // Always found: an entry with an open request is never forgotten.
    if (it == queues_.end()) continue;
    if (it->second.open > 0) --it->second.open;
    it->second.last = std::max(it->second.last, now);
  }
}

void WorkerActivity::asked(std::span<const std::string> queues, Millis now) {
  std::lock_guard lock(mutex_);
  for (const auto& q : queues) {
    Entry& e = entry(q);
    e.last = std::max(e.last, now);
  }
}

void WorkerActivity::describe(std::string_view queue, QueueFacts& facts) const {
  facts.tracking_since = started_at_;
  std::lock_guard lock(mutex_);
  auto it = queues_.find(queue);
  if (it == queues_.end()) {
    facts.last_lease_request_at.reset();
    facts.asking_now = false;
    return;
  }
  facts.last_lease_request_at = it->second.last;
  facts.asking_now = it->second.open > 0;
}

std::vector<std::pair<std::string, Millis>> WorkerActivity::asked_since(Millis since,
                                                                        Millis now) const {
  std::vector<std::pair<std::string, Millis>> out;
  std::lock_guard lock(mutex_);
  for (const auto& [queue, e] : queues_) {
    if (e.open > 0) {
      out.emplace_back(queue, now);
    } else if (e.last >= since) {
      out.emplace_back(queue, e.last);
    }
  }
  return out;
}

}  // namespace errand
