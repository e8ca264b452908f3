#include "alerts/alert_service.hpp"

#include <boost/json.hpp>

#include <future>

namespace errand::alerts {

namespace json = boost::json;

namespace {

// A change that ends an attempt: the job leaves `running` for anything but
// a cancellation (a cancelled job's attempt says nothing about its queue).
std::optional<bool> finished_attempt(const StateChange& c) {
  if (c.from != JobState::kRunning || !c.to) return std::nullopt;
  if (*c.to == JobState::kSucceeded) return false;
  if (*c.to == JobState::kCancelled) return std::nullopt;
  return true;  // failed for now (scheduled, queued) or for good (failed, expired)
}

}  // namespace

std::string alert_json(const Alert& a) {
  json::object o;
  o["name"] = a.name;
  o["queue"] = a.queue;
  o["kind"] = alert_kind_name(a.kind);
  o["state"] = a.state == AlertState::kFiring ? "firing" : "resolved";
  o["since"] = format_rfc3339(a.since);
  o["resolved_at"] = a.resolved_at ? json::value(format_rfc3339(*a.resolved_at)) : nullptr;
  o["value"] = a.value;
  o["threshold"] = a.threshold;
  return json::serialize(o);
}

AlertService::AlertService(Broker& broker, AlertServiceOptions options)
    : broker_(broker),
      options_(std::move(options)),
      webhooks_(options_.webhook),
      evaluator_(options_.rules, now_millis()) {
  subscription_ = broker_.changes().subscribe([this](std::span<const StateChange> changes) {
    std::lock_guard lock(mutex_);
    for (const auto& c : changes) {
      if (auto failed = finished_attempt(c)) evaluator_.record_attempt(c.queue, c.at, *failed);
    }
  });
  thread_ = std::thread([this] { run(); });
}

AlertService::~AlertService() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  broker_.changes().unsubscribe(subscription_);
}

std::vector<Alert> AlertService::list() const {
  std::lock_guard lock(mutex_);
  return evaluator_.list();
}

void AlertService::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    evaluate_once();
    lock.lock();
    wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
  }
}

void AlertService::evaluate_once() {
  std::promise<Result<std::vector<QueueStats>>> answered;
  auto answer = answered.get_future();
  broker_.queues(
      [&answered](Result<std::vector<QueueStats>> r) { answered.set_value(std::move(r)); });
  auto stats = answer.get();
  if (!stats) return;  // the store is shutting down or failing: /readyz says so
  const Millis now = now_millis();
  std::vector<AlertQueueSample> samples;
  samples.reserve(stats->size());
  for (const auto& q : *stats) {
    AlertQueueSample s;
    s.queue = q.name;
    s.queued = q.counts[static_cast<int>(JobState::kQueued)];
    s.failed = q.counts[static_cast<int>(JobState::kFailed)];
    s.oldest_queued_ms = q.oldest_queued_ms;
    s.last_lease_request_at = q.asking_now ? std::optional<Millis>(now) : q.last_lease_request_at;
    samples.push_back(std::move(s));
  }
  std::vector<Alert> changes;
  {
    std::lock_guard lock(mutex_);
    changes = evaluator_.evaluate(now, samples);
  }
  for (const auto& a : changes) {
    if (options_.on_change) options_.on_change(a);
    const AlertRule& rule = options_.rules[a.rule];
    if (rule.webhook.empty()) continue;
    webhooks_.send({rule.name + "\n" + a.queue, rule.webhook, alert_json(a), rule.secret});
  }
}

}  // namespace errand::alerts
