// errand's metrics (docs/metrics.md) as the change and commit feeds drive
// them, on a broker that does nothing but publish what a test hands it.
#include "metrics/server_metrics.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace errand::metrics {
namespace {

// Only the feeds are real; no test here calls the broker's operations.
class FeedOnlyBroker final : public Broker {
 public:
  void submit(std::vector<SubmitSpec>, Callback<std::vector<SubmitOutcome>>) override {}
  void lease(LeaseSpec, Callback<std::vector<JobView>>) override {}
  std::uint64_t lease_or_park(LeaseSpec, Callback<std::vector<JobView>>) override { return 0; }
  bool unpark(std::uint64_t) override { return false; }
  void ack(AckSpec, Callback<JobState>) override {}
  void fail(FailSpec, Callback<FailOutcome>) override {}
  void heartbeat(HeartbeatSpec, Callback<HeartbeatOutcome>) override {}
  void cancel(JobId, Callback<JobView>) override {}
  void retry(JobId, Callback<JobView>) override {}
  void discard(JobId, Callback<Empty>) override {}
  void set_paused(std::string, bool, Callback<QueueStats>) override {}
  void configure_queue(std::string, QueueSettingsChange, Callback<QueueStats>) override {}
  void submit_flow(FlowSpec, Callback<FlowSubmitOutcome>) override {}
  void get_flow(JobId, Callback<FlowView>) override {}
  void cancel_flow(JobId, Callback<FlowView>) override {}
  void list_flows(FlowListSpec, Callback<FlowPage>) override {}
  void flow_timeline(JobId, std::uint32_t, Callback<std::vector<TimelineEvent>>) override {}
  void get(JobId, Callback<JobView>) override {}
  void timeline(JobId, std::uint32_t, Callback<std::vector<TimelineEvent>>) override {}
  void list(ListSpec, Callback<JobPage>) override {}
  void queues(Callback<std::vector<QueueStats>>) override {}
  void queue(std::string, Callback<QueueStats>) override {}
  WaiterRegistry& waiters() override { std::abort(); }
  void lease_request_started(const std::vector<std::string>&) override {}
  void lease_request_ended(const std::vector<std::string>&) override {}
  ChangeFeed& changes() override { return changes_; }
  CommitFeed& commits() override { return commits_; }
  bool healthy() const override { return true; }
  void shutdown() override {}

 private:
  ChangeFeed changes_;
  CommitFeed commits_;
};

StateChange change(const std::string& queue, std::optional<JobState> from,
                   std::optional<JobState> to, Millis at) {
  StateChange c;
  c.queue = queue;
  c.from = from;
  c.to = to;
  c.at = at;
  c.created_at = 1'000;
  c.run_at = 1'000;
  c.started_at = 1'500;
  return c;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

class ServerMetricsTest : public ::testing::Test {
 protected:
  void publish(std::vector<StateChange> changes) { broker_.changes().publish(changes); }
  std::string render(std::vector<QueueStats> queues = {}) { return metrics_.render(queues); }

  FeedOnlyBroker broker_;
  ServerMetrics metrics_{broker_};
};

using S = JobState;

TEST_F(ServerMetricsTest, CountsEachKindOfChangeByQueue) {
  publish(
      {change("q", std::nullopt, S::kQueued, 1'000), change("q", S::kQueued, S::kRunning, 1'500),
       change("q", S::kRunning, S::kSucceeded, 1'750), change("q", std::nullopt, S::kQueued, 1'000),
       change("other", std::nullopt, S::kScheduled, 1'000)});
  const std::string out = render();
  EXPECT_TRUE(has_line(out, "errand_jobs_enqueued_total{queue=\"q\"} 2")) << out;
  EXPECT_TRUE(has_line(out, "errand_jobs_enqueued_total{queue=\"other\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_jobs_leased_total{queue=\"q\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_jobs_succeeded_total{queue=\"q\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_job_attempts_failed_total{queue=\"q\"} 0")) << out;
  EXPECT_TRUE(has_line(out, "errand_queue_wait_seconds_count{queue=\"q\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_queue_wait_seconds_sum{queue=\"q\"} 0.5")) << out;
  EXPECT_TRUE(has_line(out, "errand_run_seconds_sum{queue=\"q\"} 0.25")) << out;
  EXPECT_TRUE(has_line(out, "errand_end_to_end_seconds_sum{queue=\"q\"} 0.75")) << out;
}

TEST_F(ServerMetricsTest, FailedAttemptsLeaseExpiriesAndTerminalFailures) {
  StateChange expiry = change("q", S::kRunning, S::kScheduled, 2'000);
  expiry.error_type = "lease_expired";
  StateChange retried = change("q", S::kRunning, S::kQueued, 2'000);
  retried.error_type = "IOError";
  publish({expiry, retried, change("q", S::kRunning, S::kFailed, 3'000),
           change("q", S::kQueued, S::kExpired, 3'000),
           change("q", S::kQueued, S::kCancelled, 3'000),
           change("q", S::kFailed, std::nullopt, 4'000)});
  const std::string out = render();
  EXPECT_TRUE(has_line(out, "errand_job_attempts_failed_total{queue=\"q\"} 3")) << out;
  EXPECT_TRUE(has_line(out, "errand_lease_expiries_total{queue=\"q\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_jobs_failed_total{queue=\"q\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_jobs_expired_total{queue=\"q\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_jobs_cancelled_total{queue=\"q\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_end_to_end_seconds_count{queue=\"q\"} 3")) << out;
  EXPECT_TRUE(has_line(out, "errand_jobs_enqueued_total{queue=\"q\"} 0")) << out;
}

TEST_F(ServerMetricsTest, QueuesPastTheCapAreCountedAsOther) {
  std::vector<StateChange> changes;
  for (std::size_t i = 0; i < ServerMetrics::kMaxQueues + 5; ++i) {
    changes.push_back(change("q" + std::to_string(i), std::nullopt, S::kQueued, 1'000));
  }
  publish(changes);
  const std::string out = render();
  EXPECT_TRUE(has_line(out, "errand_jobs_enqueued_total{queue=\"q0\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_jobs_enqueued_total{queue=\"_other\"} 5"));
  EXPECT_EQ(out.find("queue=\"q1004\""), std::string::npos);
}

TEST_F(ServerMetricsTest, ScrapeTimeGaugesComeFromTheQueueStats) {
  QueueStats q;
  q.name = "q";
  q.counts[static_cast<int>(S::kQueued)] = 3;
  q.counts[static_cast<int>(S::kRunning)] = 2;
  q.oldest_queued_ms = 2'500;
  QueueStats empty;
  empty.name = "empty";
  const std::string out = render({q, empty});
  EXPECT_TRUE(has_line(out, "errand_jobs{queue=\"q\",state=\"queued\"} 3")) << out;
  EXPECT_TRUE(has_line(out, "errand_jobs{queue=\"q\",state=\"running\"} 2")) << out;
  EXPECT_TRUE(has_line(out, "errand_jobs{queue=\"q\",state=\"failed\"} 0")) << out;
  EXPECT_TRUE(has_line(out, "errand_oldest_queued_age_seconds{queue=\"q\"} 2.5")) << out;
  EXPECT_TRUE(has_line(out, "errand_oldest_queued_age_seconds{queue=\"empty\"} 0")) << out;
  // A queue known only from the store shows its counters at zero.
  EXPECT_TRUE(has_line(out, "errand_jobs_enqueued_total{queue=\"empty\"} 0")) << out;
}

TEST_F(ServerMetricsTest, CommitsSyncWaitsAndLiveGauges) {
  const CommitStats group{0.002, 3};
  broker_.commits().publish({&group, 1});
  metrics_.count_sync_wait("q", true);
  metrics_.count_sync_wait("q", false);
  metrics_.count_sync_wait("q", false);
  metrics_.set_connections_source([] { return std::size_t{7}; });
  metrics_.set_resident_memory_source([] { return std::uint64_t{123'456'789}; });
  const GaugeScope wait(metrics_.open_waits());
  const GaugeScope stream(metrics_.sse_streams());
  const std::string out = render();
  EXPECT_TRUE(has_line(out, "errand_fsync_seconds_bucket{le=\"0.0025\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_fsync_seconds_bucket{le=\"0.001\"} 0")) << out;
  EXPECT_TRUE(has_line(out, "errand_commit_batch_size_bucket{le=\"4\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_commit_batch_size_sum 3")) << out;
  EXPECT_TRUE(has_line(out, "errand_sync_waits_total{queue=\"q\",outcome=\"in_time\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_sync_waits_total{queue=\"q\",outcome=\"fell_back\"} 2")) << out;
  EXPECT_TRUE(has_line(out, "errand_connections 7")) << out;
  EXPECT_TRUE(has_line(out, "process_resident_memory_bytes 123456789")) << out;
  EXPECT_TRUE(has_line(out, "errand_open_waits 1")) << out;
  EXPECT_TRUE(has_line(out, "errand_sse_streams 1")) << out;
}

}  // namespace
}  // namespace errand::metrics
