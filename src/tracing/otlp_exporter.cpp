#include "tracing/otlp_exporter.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "outbound/http_post.hpp"
#include "tracing/job_spans.hpp"

namespace errand::tracing {
namespace {

constexpr std::string_view kTracesPath = "/v1/traces";

bool retryable(const outbound::PostResult& r) {
  return r.status == 0 || r.status == 429 || r.status == 502 || r.status == 503 || r.status == 504;
}

std::string service_name(const std::string& configured) {
  if (!configured.empty()) return configured;
  const char* env = std::getenv("OTEL_SERVICE_NAME");
  return env != nullptr && *env != '\0' ? env : "errand";
}

}  // namespace

std::optional<std::string> otlp_traces_url(std::string_view endpoint) {
  auto parsed = boost::urls::parse_absolute_uri(endpoint);
  if (!parsed) return std::nullopt;
  boost::urls::url url(*parsed);
  const auto scheme = url.scheme_id();
  if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https) {
    return std::nullopt;
  }
  if (!url.has_authority() || url.encoded_host().empty() || url.has_fragment()) {
    return std::nullopt;
  }
  std::string path(url.encoded_path());
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (!path.ends_with(kTracesPath)) path += kTracesPath;
  url.set_encoded_path(path);
  return std::string(url.buffer());
}

OtlpExporter::OtlpExporter(ChangeFeed& changes, OtlpOptions options)
    : feed_(changes),
      options_(std::move(options)),
      url_(otlp_traces_url(options_.endpoint).value_or(options_.endpoint)),
      resource_{service_name(options_.service_name), ERRAND_VERSION} {
  if (!options_.log) options_.log = [](const std::string&) {};
  options_.max_batch_spans = std::max<std::size_t>(options_.max_batch_spans, 1);
  options_.max_tries = std::max(options_.max_tries, 1);
  thread_ = std::thread([this] { run(); });
  subscription_ =
      feed_.subscribe([this](std::span<const StateChange> changes) { on_changes(changes); });
}

OtlpExporter::~OtlpExporter() {
  feed_.unsubscribe(subscription_);  // no listener call from here on
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    stop_deadline_ = Clock::now() + options_.shutdown_timeout;
  }
  wake_.notify_all();
  thread_.join();
}

void OtlpExporter::on_changes(std::span<const StateChange> changes) {
  bool wake = false;
  std::lock_guard lock(mutex_);
  for (const auto& c : changes) {
    const std::size_t n = span_count(c);
    if (n == 0) continue;
    if (pending_.empty()) {
      first_pending_at_ = Clock::now();
      wake = true;
    }
    pending_.push_back({c, n});
    pending_spans_ += n;
    while (pending_spans_ > options_.max_pending_spans) {
      const std::size_t lost = pending_.front().spans;
      pending_.pop_front();
      pending_spans_ -= lost;
      overflowed_ += lost;
      dropped_ += lost;
    }
    if (pending_spans_ >= options_.max_batch_spans) wake = true;
  }
  // Notified under the lock: the sender cannot miss it, and this is cheap
  // when the sender is busy posting (nobody waits).
  if (wake) wake_.notify_one();
}

void OtlpExporter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    wake_.wait_until(lock, first_pending_at_ + options_.batch_delay,
                     [&] { return stopping_ || pending_spans_ >= options_.max_batch_spans; });
    const std::uint64_t overflowed = std::exchange(overflowed_, 0);
    if (overflowed > 0) {
      lock.unlock();
      options_.log("otlp export: more than " + std::to_string(options_.max_pending_spans) +
                   " spans waiting; dropped the oldest " + std::to_string(overflowed));
      lock.lock();
    }
    if (pending_.empty()) {
      if (stopping_) return;
      continue;
    }
    if (stopping_ && Clock::now() >= stop_deadline_) {
      const std::size_t left = pending_spans_;
      pending_.clear();
      pending_spans_ = 0;
      lock.unlock();
      drop(left, "still waiting at shutdown");
      return;
    }
    std::vector<Pending> batch;
    std::size_t spans = 0;
    while (!pending_.empty() &&
           (batch.empty() || spans + pending_.front().spans <= options_.max_batch_spans)) {
      spans += pending_.front().spans;
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    pending_spans_ -= spans;
    if (!pending_.empty()) first_pending_at_ = Clock::now();
    lock.unlock();
    deliver(batch);
    lock.lock();
  }
}

void OtlpExporter::deliver(const std::vector<Pending>& batch) {
  std::vector<Span> spans;
  for (const auto& p : batch) {
    for (auto& s : job_spans(p.change)) spans.push_back(std::move(s));
  }
  const std::string body = otlp_json(spans, resource_);
  const outbound::PostRequest request{.url = url_,
                                      .headers = {"Content-Type: application/json"},
                                      .body = body,
                                      .timeout = options_.request_timeout,
                                      .should_abort = [this] { return past_stop_deadline(); }};
  for (int attempt = 1;; ++attempt) {
    const outbound::PostResult r = outbound::http_post(request);
    if (r.ok()) {
      exported_ += spans.size();
      return;
    }
    if (retryable(r) && attempt < options_.max_tries) {
      auto delay = options_.initial_backoff * (1 << std::min(attempt - 1, 16));
      if (r.retry_after) {
        delay = std::chrono::duration_cast<std::chrono::milliseconds>(*r.retry_after);
      }
      if (wait_for_retry(Clock::now() + std::min(delay, options_.max_backoff))) continue;
    }
    drop(spans.size(), "POST " + url_ + ": " + r.describe() + " (try " + std::to_string(attempt) +
                           " of " + std::to_string(options_.max_tries) + ")");
    return;
  }
}

bool OtlpExporter::wait_for_retry(Clock::time_point until) {
  std::unique_lock lock(mutex_);
  const auto cut_short = [&] { return stopping_ && stop_deadline_ < until; };
  return !wake_.wait_until(lock, until, cut_short);
}

bool OtlpExporter::past_stop_deadline() const {
  std::lock_guard lock(mutex_);
  return stopping_ && Clock::now() >= stop_deadline_;
}

void OtlpExporter::drop(std::uint64_t spans, const std::string& why) {
  dropped_ += spans;
  options_.log("otlp export: dropped " + std::to_string(spans) + " spans: " + why);
}

}  // namespace errand::tracing
