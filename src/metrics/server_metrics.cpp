#include "metrics/server_metrics.hpp"

#include <algorithm>
#include <map>

#include "logging/log.hpp"

namespace errand::metrics {
namespace {

// Job latencies: timestamps are whole milliseconds, and jobs wait or run from
// milliseconds (a busy worker pool) to an hour (a backlog, a long report).
const std::vector<double> kLatencyBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,     2.5,  5,     10,   30,  60,
                                             120,   300,   600,  1800,  3600};
// One group commit's write: ~0.1 ms (a fast fsync, or none) to seconds (a
// stalled disk; docs/benchmarks.md saw 0.12 ms to several ms on this VM).
const std::vector<double> kFsyncBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                           0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
// Requests sharing one commit: powers of two up to a few 64-in-flight clients.
const std::vector<double> kBatchBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

constexpr std::size_t kQueueSeries = ServerMetrics::kMaxQueues + 1;  // + "_other"

double seconds_between(Millis from, Millis to) {
  return static_cast<double>(std::max<Millis>(0, to - from)) / 1000.0;
}

// Moves `counter` up to `total`, a count kept elsewhere; `seen` is what it
// counted so far.
void catch_up(Counter& counter, std::uint64_t total, std::uint64_t& seen) {
  if (total > seen) counter.inc(total - seen);
  seen = std::max(seen, total);
}

}  // namespace

ServerMetrics::ServerMetrics(Broker& broker)
    : broker_(broker),
      enqueued_(registry_.counter("errand_jobs_enqueued_total", "Jobs submitted (new jobs only).",
                                  {"queue"}, kQueueSeries)),
      leased_(registry_.counter("errand_jobs_leased_total", "Jobs handed to a worker (attempts).",
                                {"queue"}, kQueueSeries)),
      succeeded_(registry_.counter("errand_jobs_succeeded_total", "Jobs acked by their worker.",
                                   {"queue"}, kQueueSeries)),
      attempts_failed_(registry_.counter(
          "errand_job_attempts_failed_total",
          "Attempts that ended without success: a worker's fail or a lease that ran out.",
          {"queue"}, kQueueSeries)),
      failed_(registry_.counter("errand_jobs_failed_total",
                                "Jobs that failed terminally (moved to the dead-letter state).",
                                {"queue"}, kQueueSeries)),
      expired_(registry_.counter("errand_jobs_expired_total",
                                 "Jobs whose deadline passed before a worker started them.",
                                 {"queue"}, kQueueSeries)),
      cancelled_(registry_.counter("errand_jobs_cancelled_total", "Jobs cancelled.", {"queue"},
                                   kQueueSeries)),
      lease_expiries_(registry_.counter("errand_lease_expiries_total",
                                        "Leases that ran out without an ack, fail or heartbeat.",
                                        {"queue"}, kQueueSeries)),
      sync_waits_(registry_.counter(
          "errand_sync_waits_total",
          "Submits with Prefer: wait, by outcome: in_time (200, finished within the wait) or "
          "fell_back (202).",
          {"queue", "outcome"}, kQueueSeries * 2)),
      submits_refused_(registry_.counter(
          "errand_submits_refused_total",
          "Submits refused by admission control: queue_full (429, max_queued) or memory (503).",
          {"queue", "reason"}, kQueueSeries * 2)),
      jobs_(registry_.gauge("errand_jobs", "Jobs by queue and state, read at scrape time.",
                            {"queue", "state"}, kQueueSeries * kJobStateCount)),
      oldest_queued_(registry_.gauge("errand_oldest_queued_age_seconds",
                                     "Age of the oldest queued (ready) job; 0 when none.",
                                     {"queue"}, kQueueSeries)),
      open_waits_(registry_
                      .gauge("errand_open_waits",
                             "Requests waiting: Prefer: wait submits and reads, long-poll leases.")
                      .with({})),
      sse_streams_(registry_
                       .gauge("errand_sse_streams",
                              "Open Server-Sent Events streams (job events and /v1/events).")
                       .with({})),
      connections_(
          registry_.gauge("errand_connections", "Open HTTP connections, read at scrape time.")
              .with({})),
      resident_memory_(registry_
                           .gauge("process_resident_memory_bytes",
                                  "Resident memory size in bytes, read at scrape time.")
                           .with({})),
      events_dropped_(registry_
                          .counter("errand_events_streams_dropped_total",
                                   "/v1/events subscribers dropped for falling behind.")
                          .with({})),
      log_lines_dropped_(registry_
                             .counter("errand_log_lines_dropped_total",
                                      "Log lines dropped because stderr could not keep up.")
                             .with({})),
      spans_exported_(registry_
                          .counter("errand_otlp_spans_exported_total",
                                   "OpenTelemetry spans an OTLP receiver accepted.")
                          .with({})),
      spans_dropped_(registry_
                         .counter("errand_otlp_spans_dropped_total",
                                  "OpenTelemetry spans given up on (queue full, receiver failing).")
                         .with({})),
      store_write_errors_(registry_
                              .counter("errand_store_write_errors_total",
                                       "Writes the disk refused (I/O error, disk full); each "
                                       "stops writes until the store recovers on its own.")
                              .with({})),
      store_writable_(registry_
                          .gauge("errand_store_writable",
                                 "1 while the store takes writes, 0 after a disk failure until "
                                 "it recovers; read at scrape time.")
                          .with({})),
      queue_wait_(registry_.histogram("errand_queue_wait_seconds",
                                      "From ready (created or run_at) to leased.", kLatencyBuckets,
                                      {"queue"}, kQueueSeries)),
      run_(registry_.histogram("errand_run_seconds",
                               "From leased to the end of the attempt (ack, fail or lease expiry).",
                               kLatencyBuckets, {"queue"}, kQueueSeries)),
      end_to_end_(registry_.histogram("errand_end_to_end_seconds",
                                      "From created to a terminal state.", kLatencyBuckets,
                                      {"queue"}, kQueueSeries)),
      fsync_(registry_
                 .histogram("errand_fsync_seconds",
                            "Write time of one group commit, fsync included under "
                            "--durability fsync.",
                            kFsyncBuckets)
                 .with({})),
      batch_size_(registry_
                      .histogram("errand_commit_batch_size",
                                 "Changes (requests) written by one group commit.", kBatchBuckets)
                      .with({})) {
  change_sub_ = broker_.changes().subscribe(
      [this](std::span<const StateChange> changes) { on_changes(changes); });
  commit_sub_ = broker_.commits().subscribe([this](std::span<const CommitStats> stats) {
    for (const auto& s : stats) on_commit(s);
  });
}

ServerMetrics::~ServerMetrics() {
  broker_.changes().unsubscribe(change_sub_);
  broker_.commits().unsubscribe(commit_sub_);
}

void ServerMetrics::set_spans_source(std::function<SpanTotals()> read) {
  std::lock_guard lock(mutex_);
  read_spans_ = std::move(read);
}

void ServerMetrics::set_connections_source(std::function<std::size_t()> read) {
  std::lock_guard lock(mutex_);
  read_connections_ = std::move(read);
}

void ServerMetrics::set_resident_memory_source(std::function<std::uint64_t()> read) {
  std::lock_guard lock(mutex_);
  read_resident_memory_ = std::move(read);
}

std::string_view ServerMetrics::label_locked(std::string_view queue) {
  if (queues_.size() < kMaxQueues || queues_.contains(std::string(queue))) return queue;
  return kOtherLabel;
}

ServerMetrics::QueueSeries& ServerMetrics::series_locked(std::string_view queue) {
  const std::string label(label_locked(queue));
  auto it = queues_.find(label);
  if (it != queues_.end()) return it->second;
  const LabelValues v{label};
  QueueSeries s{&enqueued_.with(v),
                &leased_.with(v),
                &succeeded_.with(v),
                &attempts_failed_.with(v),
                &failed_.with(v),
                &expired_.with(v),
                &cancelled_.with(v),
                &lease_expiries_.with(v),
                &sync_waits_.with({label, "in_time"}),
                &sync_waits_.with({label, "fell_back"}),
                &queue_wait_.with(v),
                &run_.with(v),
                &end_to_end_.with(v)};
  return queues_.emplace(label, s).first->second;
}

void ServerMetrics::count_sync_wait(std::string_view queue, bool in_time) {
  std::lock_guard lock(mutex_);
  QueueSeries& s = series_locked(queue);
  (in_time ? s.sync_in_time : s.sync_fell_back)->inc();
}

void ServerMetrics::count_submit_refused(std::string_view queue, std::string_view reason) {
  std::lock_guard lock(mutex_);
  submits_refused_.with({std::string(label_locked(queue)), std::string(reason)}).inc();
}

void ServerMetrics::on_changes(std::span<const StateChange> changes) {
  std::lock_guard lock(mutex_);
  std::string_view last_queue;
  QueueSeries* s = nullptr;
  for (const StateChange& c : changes) {
    if (!s || c.queue != last_queue) {  // a batch submit is many changes of one queue
      s = &series_locked(c.queue);
      last_queue = c.queue;
    }
    if (!c.from) s->enqueued->inc();
    if (!c.to) continue;  // removed: nothing to count
    const JobState to = *c.to;
    if (to == JobState::kRunning) {
      s->leased->inc();
      s->queue_wait->observe(seconds_between(c.run_at, c.at));
    }
    if (c.from == JobState::kRunning) {
      if (c.started_at) s->run->observe(seconds_between(*c.started_at, c.at));
      if (to != JobState::kSucceeded) s->attempts_failed->inc();
      // The broker's own error type for a lease that ran out (SPEC §1).
      if (c.error_type == "lease_expired") s->lease_expiries->inc();
    }
    switch (to) {
      case JobState::kSucceeded:
        s->succeeded->inc();
        break;
      case JobState::kFailed:
        s->failed->inc();
        break;
      case JobState::kExpired:
        s->expired->inc();
        break;
      case JobState::kCancelled:
        s->cancelled->inc();
        break;
      default:
        break;
    }
    if (is_terminal(to)) s->end_to_end->observe(seconds_between(c.created_at, c.at));
  }
}

void ServerMetrics::on_commit(const CommitStats& stats) {
  if (stats.failed) {
    store_write_errors_.inc();
    return;
  }
  fsync_.observe(stats.write_seconds);
  batch_size_.observe(static_cast<double>(stats.changes));
}

std::string ServerMetrics::render(const std::vector<QueueStats>& queues) {
  struct Scraped {
    std::int64_t counts[kJobStateCount] = {};
    std::int64_t oldest_ms = 0;
  };
  std::map<std::string, Scraped> by_label;
  std::size_t connections = 0;
  std::uint64_t resident = 0;
  {
    std::lock_guard lock(mutex_);
    for (const QueueStats& q : queues) {
      series_locked(q.name);  // a queue known only from the store still shows its counters
      Scraped& s = by_label[std::string(label_locked(q.name))];
      for (int i = 0; i < kJobStateCount; ++i) s.counts[i] += q.counts[i];
      s.oldest_ms = std::max(s.oldest_ms, q.oldest_queued_ms.value_or(0));
    }
    if (read_connections_) connections = read_connections_();
    if (read_resident_memory_) resident = read_resident_memory_();
    store_writable_.set(broker_.healthy() ? 1.0 : 0.0);
    // The log and the exporter keep their own totals: move the counters up to them.
    catch_up(log_lines_dropped_, log::dropped(), log_dropped_seen_);
    if (read_spans_) {
      const SpanTotals spans = read_spans_();
      catch_up(spans_exported_, spans.exported, spans_seen_.exported);
      catch_up(spans_dropped_, spans.dropped, spans_seen_.dropped);
    }
  }
  for (const auto& [label, s] : by_label) {
    for (int i = 0; i < kJobStateCount; ++i) {
      jobs_.with({label, std::string(to_string(static_cast<JobState>(i)))})
          .set(static_cast<double>(s.counts[i]));
    }
    oldest_queued_.with({label}).set(static_cast<double>(s.oldest_ms) / 1000.0);
  }
  connections_.set(static_cast<double>(connections));
  resident_memory_.set(static_cast<double>(resident));
  return registry_.render();
}

}  // namespace errand::metrics
