#include "alerts/webhook_sender.hpp"

#include <algorithm>
#include <set>

#include "alerts/signature.hpp"
#include "outbound/http_post.hpp"

namespace errand::alerts {

WebhookSender::WebhookSender(WebhookOptions options) : options_(std::move(options)) {
  if (!options_.log) options_.log = [](const std::string&) {};
  thread_ = std::thread([this] { run(); });
}

WebhookSender::~WebhookSender() {
  std::size_t dropped = 0;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped = pending_.size();
  }
  wake_.notify_all();
  thread_.join();
  if (dropped > 0) {
    options_.log("alert webhooks: " + std::to_string(dropped) + " undelivered at shutdown");
  }
}

void WebhookSender::send(Delivery d) {
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() >= kMaxPending) {
      options_.log("alert webhooks: too many undelivered; dropped one for " +
                   pending_.front().d.url);
      pending_.pop_front();
    }
    pending_.push_back({next_seq_++, std::move(d), Clock::now(), 0});
  }
  wake_.notify_all();
}

std::uint64_t WebhookSender::delivered() const {
  std::lock_guard lock(mutex_);
  return delivered_;
}

void WebhookSender::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // The earliest due delivery that no earlier delivery of its key holds back.
    std::set<std::string> blocked;
    auto next = pending_.end();
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (!blocked.insert(it->d.key).second) continue;
      if (next == pending_.end() || it->due < next->due) next = it;
    }
    if (next == pending_.end()) {
      wake_.wait(lock);
      continue;
    }
    if (next->due > Clock::now()) {
      wake_.wait_until(lock, next->due);
      continue;
    }
    Pending p = *next;
    lock.unlock();
    std::string error;
    const long status = post(p.d, error);
    lock.lock();
    // send() may have dropped entries meanwhile: find ours again.
    auto it = std::find_if(pending_.begin(), pending_.end(),
                           [&](const Pending& q) { return q.seq == p.seq; });
    if (status >= 200 && status < 300) {
      ++delivered_;
      if (it != pending_.end()) pending_.erase(it);
      continue;
    }
    if (it == pending_.end()) continue;
    it->attempts += 1;
    auto delay = options_.initial_backoff * (1LL << std::min(it->attempts - 1, 16));
    delay = std::min<decltype(delay)>(delay, options_.max_backoff);
    it->due = Clock::now() + delay;
    const std::string why = status == 0 ? error : "HTTP " + std::to_string(status);
    lock.unlock();
    options_.log(
        "alert webhook " + p.d.url + " failed (" + why + "); retrying in " +
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()) +
        " ms");
    lock.lock();
  }
}

long WebhookSender::post(const Delivery& d, std::string& error) const {
  outbound::PostRequest request{.url = d.url,
                                .headers = {"Content-Type: application/json"},
                                .body = d.body,
                                .timeout = options_.request_timeout};
  if (!d.secret.empty()) {
    request.headers.push_back(std::string(kSignatureHeader) + ": " + sign_body(d.secret, d.body));
  }
  const outbound::PostResult r = outbound::http_post(request);
  error = r.error;
  return r.status;
}

}  // namespace errand::alerts
