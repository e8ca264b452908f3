// The alert loop of `errand serve`: about once a second it samples every
// queue from the broker and lets core/alerts decide what fires or resolves;
// finished attempts come in from the broker's change feed (failure_ratio).
// Each change is logged, kept for GET /v1/alerts and POSTed to the rule's
// webhook (WebhookSender: signed, retried until 2xx).
//
// Thread-safe: list() may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerts/webhook_sender.hpp"
#include "core/alerts.hpp"
#include "engine/broker.hpp"

namespace errand::alerts {

struct AlertServiceOptions {
  std::vector<AlertRule> rules;
  std::chrono::milliseconds interval{1000};
  WebhookOptions webhook;
  // Called for every alert that fires or resolves (the server logs it).
  std::function<void(const Alert&)> on_change;
};

class AlertService {
 public:
  AlertService(Broker& broker, AlertServiceOptions options);
  ~AlertService();  // stops the loop; call before the broker shuts down
  AlertService(const AlertService&) = delete;
  AlertService& operator=(const AlertService&) = delete;

  // GET /v1/alerts: firing alerts, then the last resolved ones, newest first.
  [[nodiscard]] std::vector<Alert> list() const;

 private:
  void run();
  void evaluate_once();

  Broker& broker_;
  AlertServiceOptions options_;
  WebhookSender webhooks_;
  mutable std::mutex mutex_;
  AlertEvaluator evaluator_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;     // GUARDED_BY(mutex_)
  std::condition_variable wake_;
  ChangeFeed::Id subscription_ = 0;
  std::thread thread_;
};

// The alert as GET /v1/alerts lists it and the webhook receives it:
// {"name","queue","kind","state","since","resolved_at","value","threshold"}.
std::string alert_json(const Alert& alert);

}  // namespace errand::alerts
