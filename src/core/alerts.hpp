// Alert rules (SPEC §3 Observability) as pure logic: given what the queues
// look like now and the attempts that finished, decide which alerts fire and
// which resolve. An alert is one (rule, queue) pair; it fires once and
// resolves once per episode. The server samples the queues about once a
// second, feeds finished attempts in as they happen, and delivers the
// returned changes (log, webhook); this file does no I/O and reads no clock.
//
// Not thread-safe: one owner (the server's alert loop) calls everything.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.hpp"
#include "core/time.hpp"

namespace errand {

enum class AlertKind { kLag, kFailureRatio, kDeadLetters, kNoWorkers };

std::string_view alert_kind_name(AlertKind kind);
std::optional<AlertKind> parse_alert_kind(std::string_view name);

struct AlertRule {
  std::string name;
  std::string queue_glob = "*";  // shell glob over queue names; absent: every queue
  AlertKind kind = AlertKind::kLag;
  std::int64_t threshold_ms = 0;  // lag, no_workers
  double ratio = 0;               // failure_ratio
  std::int64_t window_ms = 300'000;
  std::string webhook;  // empty: none
  std::string secret;   // empty: unsigned

  // The rule's own fields make sense (a name, a threshold for its kind...).
  Status validate() const;
};

// One queue as sampled for the rules.
struct AlertQueueSample {
  std::string queue;
  std::int64_t queued = 0;  // ready to lease (not scheduled)
  std::int64_t failed = 0;  // in the dead-letter state
  std::optional<std::int64_t> oldest_queued_ms;
  // The last time a worker asked for this queue; an open long poll counts as
  // asking now. nullopt: never since the server started.
  std::optional<Millis> last_lease_request_at;
};

enum class AlertState { kFiring, kResolved };

struct Alert {
  std::string name;
  std::string queue;
  AlertKind kind = AlertKind::kLag;
  AlertState state = AlertState::kFiring;
  Millis since = 0;
  std::optional<Millis> resolved_at;
  double value = 0;      // what was measured: ms of lag, a ratio, a count
  double threshold = 0;  // what it was compared with
  std::size_t rule = 0;  // index of its rule, for the webhook and secret
};

// At least this many finished attempts in the window before failure_ratio judges.
inline constexpr std::int64_t kMinAttemptsForRatio = 10;
// Resolved alerts kept for GET /v1/alerts.
inline constexpr std::size_t kResolvedAlertsKept = 100;

class AlertEvaluator {
 public:
  // `started_at` stands in for the last lease request of a queue no worker
  // has asked for since the server started.
  AlertEvaluator(std::vector<AlertRule> rules, Millis started_at);

  [[nodiscard]] const std::vector<AlertRule>& rules() const { return rules_; }

  // A finished attempt of `queue` (succeeded, or failed: retried or not).
  void record_attempt(std::string_view queue, Millis at, bool failed);

  // Evaluates every rule against `queues` at `now`; returns the alerts that
  // fired or resolved, in that order of rules and queues.
  std::vector<Alert> evaluate(Millis now, const std::vector<AlertQueueSample>& queues);

  // Firing alerts, then up to kResolvedAlertsKept resolved ones, newest first.
  [[nodiscard]] std::vector<Alert> list() const;

 private:
  // Finished attempts per second, oldest first: memory is bounded by the
  // longest window, not by the throughput.
  struct Second {
    Millis start = 0;
    std::int64_t finished = 0;
    std::int64_t failed = 0;
  };
  using Attempts = std::deque<Second>;

  struct Measure {
    double value = 0;
    bool breached = false;
  };
  Measure measure(const AlertRule& rule, const AlertQueueSample& q, Millis now);

  std::vector<AlertRule> rules_;
  Millis started_at_;
  std::int64_t longest_window_ms_ = 0;
  std::map<std::string, Attempts, std::less<>> attempts_;
  std::map<std::pair<std::size_t, std::string>, Alert> firing_;  // by (rule, queue)
  std::deque<Alert> resolved_;                                   // newest first
};

// Whether `name` matches the shell glob `pattern` (`*`, `?`, `[...]`).
bool glob_matches(std::string_view pattern, std::string_view name);

}  // namespace errand
