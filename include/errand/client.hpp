// errand::Client: a blocking HTTP client for one errand server.
//
//   errand::Client client({.server = "http://127.0.0.1:7400"});
//   errand::SubmitOptions o;
//   o.wait_seconds = 2;
//   errand::Job job = client.submit("orders", R"({"order":42})", o);
//   if (job.state == "succeeded") use(*job.result); else show_status_page(job.id);
//
// Every call throws errand::Error on failure (see its kind()). A Client keeps
// one keep-alive connection and is not thread-safe: give each thread its own
// (they are cheap), or share one behind a mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "errand/types.hpp"

namespace errand {
inline namespace v1 {

class Error : public std::runtime_error {
 public:
  enum class Kind {
    kTransport,  // no answer: connection refused, reset, timeout, DNS, TLS
    kHttp,       // the server answered with an error status (problem+json)
    kProtocol,   // the server answered something this client cannot read
    kUsage,      // the call itself is wrong (e.g. a payload that is not JSON)
    kStopped,    // interrupted by the stop flag given in ClientOptions
  };
  Error(Kind kind, int status, std::string message, std::string body = {});

  [[nodiscard]] Kind kind() const { return kind_; }
  // The HTTP status for kHttp (404 unknown job, 409 wrong state or lease lost,
  // 429/503 try later...), 0 otherwise.
  [[nodiscard]] int status() const { return status_; }
  // The problem+json body for kHttp, as sent.
  [[nodiscard]] const std::string& body() const { return body_; }
  // Worth trying again later: transport failures, 429, 502, 503, 504, 507.
  [[nodiscard]] bool retryable() const;

 private:
  Kind kind_;
  int status_;
  std::string body_;
};

struct ClientOptions {
  std::string server = "http://127.0.0.1:7400";  // base URL, http or https
  std::string token;                             // sent as Authorization: Bearer; empty: none
  // For https:// servers: a PEM file of the certificate authorities to trust
  // instead of the system's, e.g. a private CA or the server's self-signed
  // certificate. Empty: the system's trust store. Never disables verification.
  std::string ca_file;
  std::chrono::milliseconds connect_timeout{5000};
  // How long a request may take beyond any wait it asked for.
  std::chrono::milliseconds request_timeout{30000};
  // When set and it becomes true, a call in progress (a long poll, a followed
  // event stream) is abandoned within about 100 ms with Error::Kind::kStopped;
  // a call made while it is true throws kStopped at once. The flag must
  // outlive the Client.
  const std::atomic<bool>* stop = nullptr;
};

class Client {
 public:
  // Throws Error (kUsage) when options.server is not an http:// or https://
  // URL. Connects lazily, on the first call.
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // REQUIRES (every member but the destructor and assignment): *this was not
  // moved from.
  [[nodiscard]] const ClientOptions& options() const;

  // --- producers ---------------------------------------------------------
  // Submits one job; `payload` is JSON text. With options.wait_seconds the
  // answer may already be terminal (the server's 200); otherwise it is the
  // accepted job (202), to be followed with get() or follow().
  Job submit(std::string_view queue, std::string_view payload, const SubmitOptions& options = {});
  // Submits up to 1000 jobs at once, all or nothing.
  std::vector<BatchEntry> submit_batch(std::string_view queue, const std::vector<BatchJob>& jobs);
  // The job; with wait_seconds, once it is terminal or the wait ran out.
  Job get(std::string_view id, std::optional<double> wait_seconds = std::nullopt);
  // The timeline so far.
  std::vector<Event> events(std::string_view id);
  // Follows the job's events live (SSE) from after `after_seq` (0: the start),
  // calling on_event for each, until the terminal event has been delivered or
  // on_event returns false. A dropped stream is resumed where it left off;
  // gives up (throws) only when the server stays unreachable for
  // `give_up_after`. Returns the last sequence number delivered.
  std::int64_t follow(std::string_view id, const std::function<bool(const Event&)>& on_event,
                      std::int64_t after_seq = 0,
                      std::chrono::milliseconds give_up_after = std::chrono::seconds(30));
  Job cancel(std::string_view id);

  // --- flows (docs/api.md, "Flows") --------------------------------------
  // Submits a flow; `flow` is the JSON text of the body:
  //   {"name": "checkout", "steps": {"charge": {"queue": "payments",
  //    "payload": {...}}, ...}, "idempotency_key": "order-42"}
  // With options.wait_seconds the answer may already be terminal (the
  // server's 200); otherwise it is the running flow (202), to be followed
  // with get_flow(). A flow the server refuses is kHttp 400 with its detail.
  Flow submit_flow(std::string_view flow, const FlowSubmitOptions& options = {});
  // The flow; with wait_seconds, once it is terminal or the wait ran out.
  Flow get_flow(std::string_view id, std::optional<double> wait_seconds = std::nullopt);
  // Cancels a running or compensating flow: what has not started is skipped,
  // what succeeded is compensated. A finished flow is kHttp 409.
  Flow cancel_flow(std::string_view id);
  // The flow's events so far (started, step_started, step_succeeded...).
  std::vector<Event> flow_events(std::string_view id);

  // --- operators ---------------------------------------------------------
  Job retry(std::string_view id);
  JobPage jobs(const JobFilter& filter = {});
  std::vector<Queue> queues();

  // --- workers (errand::Worker does all of this for you) -----------------
  std::vector<LeasedJob> lease(const LeaseRequest& request);
  void ack(std::string_view id, std::string_view lease, std::string_view result);
  std::vector<AckOutcome> ack_many(const std::vector<Ack>& acks);
  FailOutcome fail(std::string_view id, std::string_view lease, const FailRequest& failure);
  HeartbeatOutcome heartbeat(std::string_view id, std::string_view lease,
                             const std::optional<Progress>& progress = std::nullopt,
                             std::optional<std::int64_t> lease_ms = std::nullopt);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace v1
}  // namespace errand
