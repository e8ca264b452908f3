#include "tracing/otlp_exporter.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>

namespace errand::tracing {
namespace {

using namespace std::chrono_literals;

TEST(OtlpTracesUrl, AppendsTheTracesPathToABaseUrl) {
  EXPECT_EQ(otlp_traces_url("http://127.0.0.1:4318"), "http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(otlp_traces_url("http://127.0.0.1:4318/"), "http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(otlp_traces_url("https://otel.example.com/otlp"),
            "https://otel.example.com/otlp/v1/traces");
  EXPECT_EQ(otlp_traces_url("HTTP://collector:4318"), "HTTP://collector:4318/v1/traces");
}

TEST(OtlpTracesUrl, KeepsAUrlThatEndsWithTheTracesPath) {
  EXPECT_EQ(otlp_traces_url("http://127.0.0.1:4318/v1/traces"), "http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(otlp_traces_url("https://x.example/tenant/v1/traces/"),
            "https://x.example/tenant/v1/traces");
}

TEST(OtlpTracesUrl, RejectsWhatIsNotAnHttpUrlWithAHost) {
  for (const char* bad : {"", "127.0.0.1:4318", "ftp://x", "http://", "http:///v1/traces",
                          "file:///tmp/x", "http://a b", "http://host/#frag"}) {
    EXPECT_FALSE(otlp_traces_url(bad)) << bad;
  }
}

// A loopback TCP port: listening but never accepting (a hung collector), or
// closed (connections refused).
class Port {
 public:
  explicit Port(bool listening) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    if (listening) {
      EXPECT_EQ(::listen(fd_, 16), 0);
    } else {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Port() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Log lines, waited for.
class Log {
 public:
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& line) {
      std::lock_guard lock(mutex_);
      lines_.push_back(line);
      changed_.notify_all();
    };
  }
  // The first line containing `text`, or "" after `timeout`.
  std::string wait_for(const std::string& text, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    std::string found;
    changed_.wait_for(lock, timeout, [&] {
      for (const auto& l : lines_) {
        if (l.find(text) != std::string::npos) return found = l, true;
      }
      return false;
    });
    return found;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
};

// A change that ends one span (a queue wait).
StateChange one_span_change() {
  StateChange c;
  c.id = *JobId::parse("0192f5c4-6e1a-7b3c-9d2e-4f5a6b7c8d9e");
  c.queue = "orders";
  c.from = JobState::kQueued;
  c.to = JobState::kRunning;
  c.at = 2000;
  c.attempt = 1;
  c.created_at = c.run_at = 1000;
  c.started_at = 2000;
  return c;
}

TEST(OtlpExporter, DropsTheOldestBeyondItsBoundAndSaysSo) {
  Port refused(false);
  ChangeFeed feed;
  Log log;
  {
    OtlpExporter exporter(feed, {.endpoint = refused.url(),
                                 .log = log.sink(),
                                 .max_pending_spans = 4,
                                 .batch_delay = 1h,  // nothing leaves before shutdown
                                 .max_tries = 1,
                                 .shutdown_timeout = 2s});
    const std::vector<StateChange> changes(10, one_span_change());
    feed.publish(changes);
    EXPECT_EQ(exporter.dropped(), 6u);
    EXPECT_EQ(exporter.exported(), 0u);
  }
  EXPECT_NE(log.wait_for("dropped the oldest 6", 0s), "");
  EXPECT_NE(log.wait_for("dropped 4 spans", 0s), "") << "what was left failed at shutdown";
}

TEST(OtlpExporter, GivesUpOnABatchAfterItsTries) {
  Port refused(false);
  ChangeFeed feed;
  Log log;
  OtlpExporter exporter(feed, {.endpoint = refused.url(),
                               .log = log.sink(),
                               .batch_delay = 10ms,
                               .max_tries = 3,
                               .initial_backoff = 10ms});
  const std::vector<StateChange> changes(3, one_span_change());
  feed.publish(changes);
  const std::string line = log.wait_for("dropped 3 spans");
  EXPECT_NE(line.find("try 3 of 3"), std::string::npos) << line;
  EXPECT_NE(line.find("/v1/traces"), std::string::npos) << line;
  EXPECT_EQ(exporter.dropped(), 3u);
  EXPECT_EQ(exporter.exported(), 0u);
}

TEST(OtlpExporter, IgnoresChangesThatEndNoSpan) {
  Port refused(false);
  ChangeFeed feed;
  OtlpExporter exporter(feed, {.endpoint = refused.url(), .max_pending_spans = 1});
  StateChange created = one_span_change();
  created.from.reset();
  created.to = JobState::kQueued;
  const std::vector<StateChange> changes(5, created);
  feed.publish(changes);
  EXPECT_EQ(exporter.dropped(), 0u) << "nothing was queued, so nothing overflowed";
}

TEST(OtlpExporter, ShutdownIsBoundedWhenTheCollectorHangs) {
  Port hung(true);
  ChangeFeed feed;
  Log log;
  const auto started = std::chrono::steady_clock::now();
  {
    OtlpExporter exporter(feed, {.endpoint = hung.url(),
                                 .log = log.sink(),
                                 .batch_delay = 0ms,
                                 .request_timeout = 60s,
                                 .shutdown_timeout = 300ms});
    const std::vector<StateChange> changes(1, one_span_change());
    feed.publish(changes);
  }
  // The abort is polled about once a second while the transfer stalls.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_NE(log.wait_for("dropped 1 spans", 0s), "");
}

}  // namespace
}  // namespace errand::tracing
