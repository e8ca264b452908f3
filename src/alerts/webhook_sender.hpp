// Delivers alert notifications to webhooks: POST of a JSON body, signed when
// the rule has a secret, retried with backoff until the receiver answers
// 2xx. Deliveries for the same alert keep their order (a resolve never
// overtakes its fire); different alerts do not wait for each other.
//
// Thread-safe; one background thread does the HTTP. Pending deliveries are
// bounded: beyond kMaxPending the oldest is dropped, and logged.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace errand::alerts {

struct Delivery {
  std::string key;  // deliveries with the same key go out in order
  std::string url;
  std::string body;    // JSON
  std::string secret;  // empty: unsigned
};

struct WebhookOptions {
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60'000};
  std::chrono::milliseconds request_timeout{5000};
  // One line per notable event (a delivery failed, was dropped...).
  std::function<void(const std::string&)> log;
};

class WebhookSender {
 public:
  static constexpr std::size_t kMaxPending = 1000;

  explicit WebhookSender(WebhookOptions options);
  ~WebhookSender();  // stops; what is still pending is dropped
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  void send(Delivery d);
  // Deliveries accepted by a receiver so far (for tests and metrics).
  [[nodiscard]] std::uint64_t delivered() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    std::uint64_t seq;  // identifies it across the unlocked POST
    Delivery d;
    Clock::time_point due;
    int attempts = 0;
  };
  void run();
  // The status code, or 0 when no answer came.
  long post(const Delivery& d, std::string& error) const;

  WebhookOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> pending_;  // GUARDED_BY(mutex_), in the order sent
  bool stopping_ = false;        // GUARDED_BY(mutex_)
  std::uint64_t delivered_ = 0;  // GUARDED_BY(mutex_)
  std::uint64_t next_seq_ = 0;   // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace errand::alerts
