#include "core/alerts.hpp"

#include <fnmatch.h>

#include <algorithm>

namespace errand {

namespace {

constexpr Millis kSecond = 1000;

constexpr std::pair<AlertKind, std::string_view> kKindNames[] = {
    {AlertKind::kLag, "lag"},
    {AlertKind::kFailureRatio, "failure_ratio"},
    {AlertKind::kDeadLetters, "dead_letters"},
    {AlertKind::kNoWorkers, "no_workers"},
};

}  // namespace

std::string_view alert_kind_name(AlertKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<AlertKind> parse_alert_kind(std::string_view name) {
  for (const auto& [k, n] : kKindNames) {
    if (n == name) return k;
  }
  return std::nullopt;
}

Status AlertRule::validate() const {
  const std::string of = "alert '" + name + "': ";
  if (name.empty()) return invalid_argument("an alert needs a name");
  if (queue_glob.empty()) return invalid_argument(of + "queue must not be empty");
  switch (kind) {
    case AlertKind::kLag:
    case AlertKind::kNoWorkers:
      if (threshold_ms <= 0) return invalid_argument(of + "threshold_ms must be positive");
      break;
    case AlertKind::kFailureRatio:
      if (!(ratio > 0 && ratio <= 1)) return invalid_argument(of + "ratio must be in (0, 1]");
      if (window_ms < kSecond) return invalid_argument(of + "window_ms must be at least 1000");
      break;
    case AlertKind::kDeadLetters:
      break;
  }
  if (!webhook.empty() && !webhook.starts_with("http://") && !webhook.starts_with("https://")) {
    return invalid_argument(of + "webhook must be an http:// or https:// URL");
  }
  return Status::ok();
}

bool glob_matches(std::string_view pattern, std::string_view name) {
  return fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), 0) == 0;
}

AlertEvaluator::AlertEvaluator(std::vector<AlertRule> rules, Millis started_at)
    : rules_(std::move(rules)), started_at_(started_at) {
  for (const auto& r : rules_) {
    if (r.kind == AlertKind::kFailureRatio) {
      longest_window_ms_ = std::max(longest_window_ms_, r.window_ms);
    }
  }
}

void AlertEvaluator::record_attempt(std::string_view queue, Millis at, bool failed) {
  if (longest_window_ms_ == 0) return;  // no rule looks at attempts
  auto it = attempts_.find(queue);
  if (it == attempts_.end()) it = attempts_.emplace(std::string(queue), Attempts{}).first;
  Attempts& a = it->second;
  const Millis second = at - at % kSecond;
  if (a.empty() || a.back().start < second) a.push_back({second, 0, 0});
  // An attempt reported late (out of order) counts in the newest second.
  a.back().finished += 1;
  a.back().failed += failed ? 1 : 0;
  while (!a.empty() && a.front().start + kSecond <= at - longest_window_ms_) a.pop_front();
}

AlertEvaluator::Measure AlertEvaluator::measure(const AlertRule& rule, const AlertQueueSample& q,
                                                Millis now) {
  switch (rule.kind) {
    case AlertKind::kLag: {
      const auto lag = q.oldest_queued_ms.value_or(0);
      return {static_cast<double>(lag), lag > rule.threshold_ms};
    }
    case AlertKind::kDeadLetters:
      return {static_cast<double>(q.failed), q.failed > 0};
    case AlertKind::kNoWorkers: {
      const auto idle = now - q.last_lease_request_at.value_or(started_at_);
      return {static_cast<double>(idle), q.queued > 0 && idle > rule.threshold_ms};
    }
    case AlertKind::kFailureRatio: {
      std::int64_t finished = 0;
      std::int64_t failed = 0;
      if (auto it = attempts_.find(q.queue); it != attempts_.end()) {
        for (const auto& s : it->second) {
          if (s.start + kSecond <= now - rule.window_ms) continue;
          finished += s.finished;
          failed += s.failed;
        }
      }
      const double ratio =
          finished == 0 ? 0.0 : static_cast<double>(failed) / static_cast<double>(finished);
      // Too few attempts prove nothing: such a window never fires, and an
      // alert that is firing resolves once traffic stops.
      return {ratio, finished >= kMinAttemptsForRatio && ratio >= rule.ratio};
    }
  }
  return {};
}

std::vector<Alert> AlertEvaluator::evaluate(Millis now,
                                            const std::vector<AlertQueueSample>& queues) {
  std::vector<Alert> changes;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const AlertRule& rule = rules_[i];
    const double threshold = rule.kind == AlertKind::kFailureRatio ? rule.ratio
                             : rule.kind == AlertKind::kDeadLetters
                                 ? 0.0
                                 : static_cast<double>(rule.threshold_ms);
    for (const auto& q : queues) {
      if (!glob_matches(rule.queue_glob, q.queue)) continue;
      const Measure m = measure(rule, q, now);
      const auto key = std::make_pair(i, q.queue);
      auto it = firing_.find(key);
      if (m.breached && it == firing_.end()) {
        Alert a{rule.name, q.queue,   rule.kind, AlertState::kFiring, now, std::nullopt,
                m.value,   threshold, i};
        firing_.emplace(key, a);
        changes.push_back(std::move(a));
      } else if (m.breached) {
        it->second.value = m.value;
      } else if (it != firing_.end()) {
        Alert a = std::move(it->second);
        firing_.erase(it);
        a.state = AlertState::kResolved;
        a.resolved_at = now;
        a.value = m.value;
        resolved_.push_front(a);
        if (resolved_.size() > kResolvedAlertsKept) resolved_.pop_back();
        changes.push_back(std::move(a));
      }
    }
  }
  return changes;
}

std::vector<Alert> AlertEvaluator::list() const {
  std::vector<Alert> out;
  out.reserve(firing_.size() + resolved_.size());
  for (const auto& [key, a] : firing_) out.push_back(a);
  std::sort(out.begin(), out.end(),
            [](const Alert& a, const Alert& b) { return a.since > b.since; });
  out.insert(out.end(), resolved_.begin(), resolved_.end());
  return out;
}

}  // namespace errand
