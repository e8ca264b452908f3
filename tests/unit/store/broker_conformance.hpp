// The Broker conformance suite's fixture: every test in broker_test.cpp is
// written against the Broker interface only, and runs once per backend that
// instantiates BrokerTest (embedded_broker_test.cpp for RocksDB; a PostgreSQL
// store adds its own instantiation file with a BrokerBackend that opens it).
//
// Broker callbacks arrive on other threads: every call goes through
// await_result(), which waits on a future with a timeout, and every "until the
// timer fires" goes through wait_for(), which subscribes to the job's waiter
// topic and re-reads the job, with a deadline. Nothing sleeps and hopes.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/time.hpp"
#include "engine/broker.hpp"
#include "engine/waiter_registry.hpp"

namespace errand::conformance {

// How long a broker may take to call back, and how long a test waits for a
// timer-driven change (run_at, lease expiry, deadline). Generous: the machine
// may be busy; a passing test never waits this long.
inline constexpr auto kCallTimeout = std::chrono::seconds(10);
inline constexpr auto kWaitTimeout = std::chrono::seconds(10);

// What a test may choose when it opens a store; each backend maps these onto
// its own options.
struct StoreOptions {
  Millis retention_ms = 7LL * 24 * 3600 * 1000;         // SPEC §1 default
  Millis no_worker_after_ms = kDefaultNoWorkerAfterMs;  // waiting_on no_workers
};

// One empty store for one test. It outlives every broker opened on it, so a
// test can destroy its broker and open a new one on the same data (restart).
class BrokerStore {
 public:
  virtual ~BrokerStore() = default;
  virtual Result<std::unique_ptr<Broker>> open(const StoreOptions& options) = 0;
};

struct BrokerBackend {
  std::string name;  // a test-name suffix: letters and digits only
  std::function<std::unique_ptr<BrokerStore>()> make_store;
  // A job submitted to a parked lease is leased in the submit's own write
  // (the embedded store); otherwise in a write of its own right after.
  bool hands_off_in_the_same_write = true;
  // ack_all() writes its acks as one change (the embedded store); otherwise
  // as the store groups concurrent acks.
  bool acks_a_batch_in_one_write = true;
};

// Counts the group commits the store makes. The feed calls from the commit thread.
class CommitCounter {
 public:
  explicit CommitCounter(CommitFeed& feed) : feed_(feed) {
    id_ = feed_.subscribe([this](std::span<const CommitStats> s) { commits_ += s.size(); });
  }
  ~CommitCounter() { feed_.unsubscribe(id_); }
  std::size_t commits() const { return commits_.load(); }

 private:
  CommitFeed& feed_;
  CommitFeed::Id id_;
  std::atomic<std::size_t> commits_{0};
};

inline void PrintTo(const BrokerBackend& backend, std::ostream* os) { *os << backend.name; }

inline std::string describe(const Status& s) {
  static constexpr const char* kNames[] = {"ok",
                                           "invalid_argument",
                                           "not_found",
                                           "conflict",
                                           "too_large",
                                           "unsupported_media_type",
                                           "resource_exhausted",
                                           "unavailable",
                                           "insufficient_storage",
                                           "internal"};
  return std::string(kNames[static_cast<int>(s.code())]) + ": " + s.message();
}

// Aborts the test (GoogleTest reports the exception) when `r` holds an error:
// for the steps a test needs to succeed before it can check anything.
template <typename T>
T must(Result<T> r, std::string_view what) {
  if (!r.is_ok()) throw std::runtime_error(std::string(what) + " failed: " + describe(r.status()));
  return std::move(r).value();
}

// Starts an asynchronous broker call with `start(callback)` and waits for its
// one answer. A broker that never answers yields kInternal "timed out"; one
// that answers twice fails the test.
inline constexpr std::string_view kTimedOut = "timed out: the broker did not call back";
inline bool timed_out(const Status& s) {
  return s.code() == Code::kInternal && s.message() == kTimedOut;
}

template <typename T, typename Start>
Result<T> await_result(Start&& start, std::chrono::milliseconds timeout = kCallTimeout) {
  struct Shared {
    std::promise<Result<T>> promise;
    std::atomic<int> calls{0};
  };
  auto shared = std::make_shared<Shared>();
  auto future = shared->promise.get_future();
  start([shared](Result<T> r) {
    if (shared->calls.fetch_add(1) > 0) {
      ADD_FAILURE() << "the broker called back twice";
      return;
    }
    shared->promise.set_value(std::move(r));
  });
  if (future.wait_for(timeout) != std::future_status::ready) {
    return Status(Code::kInternal, std::string(kTimedOut));
  }
  return future.get();
}

// ---- Specs for the tests -----------------------------------------------------

inline SubmitSpec job(std::string queue, std::string payload = R"({"n":1})") {
  SubmitSpec s;
  s.queue = std::move(queue);
  s.payload_json = std::move(payload);
  return s;
}

// A job whose failed attempts are retried at once (no backoff), so tests of
// lease expiry see the re-delivery without waiting a second.
inline SubmitSpec quick_retry_job(std::string queue, std::int64_t lease_ms) {
  SubmitSpec s = job(std::move(queue));
  s.lease_ms = lease_ms;
  s.backoff.initial_ms = 0;
  return s;
}
inline LeaseSpec lease_spec(std::vector<std::string> queues, int max = 1,
                            std::optional<std::int64_t> lease_ms = std::nullopt) {
  LeaseSpec s;
  s.queues = std::move(queues);
  s.worker = "worker-1";
  s.max = max;
  s.lease_ms = lease_ms;
  return s;
}
inline FailSpec fail_spec(const JobView& leased, bool retry = true,
                          std::optional<std::int64_t> retry_in_ms = std::nullopt) {
  FailSpec s;
  s.id = leased.record.id;
  s.lease = leased.record.lease_token;
  s.error = JobError{"boom", "RuntimeError", "stack trace", 0};
  s.retry = retry;
  s.retry_in_ms = retry_in_ms;
  return s;
}

inline SubmitSpec keyed(std::string queue, std::string key, std::string payload) {
  SubmitSpec s = job(std::move(queue), std::move(payload));
  s.idempotency_key = std::move(key);
  return s;
}

// ---- Reading answers ----------------------------------------------------------

inline std::int64_t count(const QueueStats& q, JobState state) {
  return q.counts[static_cast<int>(state)];
}

inline boost::json::object parse_event(const TimelineEvent& ev) {
  boost::json::value v = boost::json::parse(ev.json);
  if (!v.is_object()) throw std::runtime_error("timeline event is not an object: " + ev.json);
  return v.get_object();
}

// The first event of `type` in `events`, parsed; throws when there is none.
inline boost::json::object find_event(const std::vector<TimelineEvent>& events,
                                      std::string_view type) {
  for (const auto& ev : events) {
    if (ev.type == type) return parse_event(ev);
  }
  throw std::runtime_error("no '" + std::string(type) + "' event in the timeline");
}

inline Millis event_at(const boost::json::object& ev) {
  const auto at = parse_rfc3339(ev.at("at").as_string());
  if (!at) throw std::runtime_error("event time is not RFC 3339: " + boost::json::serialize(ev));
  return *at;
}

// Spins until the wall clock has moved past `t`, so two events are ordered by
// their millisecond and not only by id. Bounded: the clock moves.
inline void wait_past(Millis t) {
  while (now_millis() <= t) std::this_thread::yield();
}

// Subscribes to `topic`; the future becomes ready on the first notification.
inline std::future<void> subscribe(Broker& broker, const std::string& topic) {
  auto woken = std::make_shared<std::promise<void>>();
  const std::string topics[] = {topic};
  broker.waiters().subscribe(topics, [woken] { woken->set_value(); });
  return woken->get_future();
}

class BrokerTest : public ::testing::TestWithParam<BrokerBackend> {
 protected:
  void SetUp() override {
    store_ = GetParam().make_store();
    reopen();
  }
  void TearDown() override {
    broker_.reset();
    store_.reset();
  }

  // Destroys the broker (a clean shutdown) and opens a new one on the same store.
  void reopen(const StoreOptions& options = {}) {
    broker_.reset();
    broker_ = must(store_->open(options), "opening the store");
  }
  Broker& broker() {
    if (!broker_) throw std::logic_error("no broker is open");
    return *broker_;
  }

  // ---- Broker calls, answered as values ------------------------------------

  Result<std::vector<SubmitOutcome>> submit_batch(std::vector<SubmitSpec> specs) {
    return await_result<std::vector<SubmitOutcome>>(
        [&](auto done) { broker().submit(std::move(specs), std::move(done)); });
  }
  Result<SubmitOutcome> submit(SubmitSpec spec) {
    std::vector<SubmitSpec> one;
    one.push_back(std::move(spec));
    auto r = submit_batch(std::move(one));
    if (!r.is_ok()) return r.status();
    if (r.value().size() != 1)
      return Status(Code::kInternal, "submit of one job gave another count");
    return std::move(r.value().front());
  }
  Result<std::vector<JobView>> lease(LeaseSpec spec) {
    return await_result<std::vector<JobView>>(
        [&](auto done) { broker().lease(std::move(spec), std::move(done)); });
  }
  Result<JobState> ack(const JobId& id, std::string token, std::string result = "null") {
    return await_result<JobState>([&](auto done) {
      broker().ack(AckSpec{id, std::move(token), std::move(result)}, std::move(done));
    });
  }
  Result<std::vector<Status>> ack_all(std::vector<AckSpec> specs) {
    return await_result<std::vector<Status>>(
        [&](auto done) { broker().ack_all(std::move(specs), std::move(done)); });
  }
  Result<FailOutcome> fail(FailSpec spec) {
    return await_result<FailOutcome>(
        [&](auto done) { broker().fail(std::move(spec), std::move(done)); });
  }
  Result<HeartbeatOutcome> heartbeat(const JobId& id, std::string token,
                                     std::optional<std::int64_t> lease_ms = std::nullopt,
                                     std::string progress_json = {}) {
    return await_result<HeartbeatOutcome>([&](auto done) {
      broker().heartbeat(HeartbeatSpec{id, std::move(token), lease_ms, std::move(progress_json)},
                         std::move(done));
    });
  }
  Result<JobView> cancel(const JobId& id) {
    return await_result<JobView>([&](auto done) { broker().cancel(id, std::move(done)); });
  }
  Result<JobView> retry(const JobId& id) {
    return await_result<JobView>([&](auto done) { broker().retry(id, std::move(done)); });
  }
  Result<Empty> discard(const JobId& id) {
    return await_result<Empty>([&](auto done) { broker().discard(id, std::move(done)); });
  }
  Result<QueueStats> set_paused(std::string queue, bool paused) {
    return await_result<QueueStats>(
        [&](auto done) { broker().set_paused(std::move(queue), paused, std::move(done)); });
  }
  Result<QueueStats> configure_queue(std::string queue, QueueSettingsChange change) {
    return await_result<QueueStats>(
        [&](auto done) { broker().configure_queue(std::move(queue), change, std::move(done)); });
  }
  Result<JobView> get(const JobId& id) {
    return await_result<JobView>([&](auto done) { broker().get(id, std::move(done)); });
  }
  Result<std::vector<TimelineEvent>> timeline(const JobId& id, std::uint32_t after_seq = 0) {
    return await_result<std::vector<TimelineEvent>>(
        [&](auto done) { broker().timeline(id, after_seq, std::move(done)); });
  }
  Result<JobPage> list(ListSpec spec) {
    return await_result<JobPage>(
        [&](auto done) { broker().list(std::move(spec), std::move(done)); });
  }
  Result<std::vector<QueueStats>> queues() {
    return await_result<std::vector<QueueStats>>(
        [&](auto done) { broker().queues(std::move(done)); });
  }
  Result<QueueStats> queue(std::string name) {
    return await_result<QueueStats>(
        [&](auto done) { broker().queue(std::move(name), std::move(done)); });
  }

  Result<FlowSubmitOutcome> submit_flow(FlowSpec spec) {
    return await_result<FlowSubmitOutcome>(
        [&](auto done) { broker().submit_flow(std::move(spec), std::move(done)); });
  }
  Result<FlowView> get_flow(const JobId& id) {
    return await_result<FlowView>([&](auto done) { broker().get_flow(id, std::move(done)); });
  }
  Result<FlowView> cancel_flow(const JobId& id) {
    return await_result<FlowView>([&](auto done) { broker().cancel_flow(id, std::move(done)); });
  }
  Result<FlowPage> list_flows(FlowListSpec spec) {
    return await_result<FlowPage>(
        [&](auto done) { broker().list_flows(std::move(spec), std::move(done)); });
  }
  Result<std::vector<TimelineEvent>> flow_timeline(const JobId& id, std::uint32_t after_seq = 0) {
    return await_result<std::vector<TimelineEvent>>(
        [&](auto done) { broker().flow_timeline(id, after_seq, std::move(done)); });
  }
  std::vector<std::string> flow_event_types(const JobId& id) {
    std::vector<std::string> types;
    for (const auto& ev : must(flow_timeline(id), "flow timeline")) types.push_back(ev.type);
    return types;
  }

  // ---- Shortcuts for steps that must succeed -------------------------------

  JobView submit_ok(SubmitSpec spec) { return must(submit(std::move(spec)), "submit").job; }
  // Leases exactly one job from `queue` and returns it.
  JobView lease_one(const std::string& queue, std::optional<std::int64_t> lease_ms = std::nullopt) {
    auto jobs = must(lease(lease_spec({queue}, 1, lease_ms)), "lease");
    if (jobs.size() != 1) {
      throw std::runtime_error("expected to lease one job from '" + queue + "', got " +
                               std::to_string(jobs.size()));
    }
    return std::move(jobs.front());
  }
  JobView get_ok(const JobId& id) { return must(get(id), "get"); }
  std::vector<std::string> event_types(const JobId& id) {
    std::vector<std::string> types;
    for (const auto& ev : must(timeline(id), "timeline")) types.push_back(ev.type);
    return types;
  }

  // Waits until `pred` holds for the job: subscribe to its topic, re-read, and
  // wait for the next notification, until kWaitTimeout. Throws on timeout.
  JobView wait_for(const JobId& id, const std::function<bool(const JobView&)>& pred,
                   std::string_view what) {
    const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
    const std::string topics[] = {job_topic(id)};
    for (;;) {
      auto woken = std::make_shared<std::promise<void>>();
      auto fired = woken->get_future();
      const auto sub = broker().waiters().subscribe(topics, [woken] { woken->set_value(); });
      JobView v = get_ok(id);
      if (pred(v)) {
        broker().waiters().unsubscribe(sub);
        return v;
      }
      if (fired.wait_until(deadline) != std::future_status::ready) {
        broker().waiters().unsubscribe(sub);
        throw std::runtime_error("timed out waiting until " + std::string(what) + "; job " +
                                 id.to_string() + " is " + std::string(to_string(v.record.state)) +
                                 " at attempt " + std::to_string(v.record.attempt));
      }
    }
  }
  // Waits until the job is gone (purged), like wait_for().
  void wait_until_purged(const JobId& id) {
    const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
    const std::string topics[] = {job_topic(id)};
    for (;;) {
      auto woken = std::make_shared<std::promise<void>>();
      auto fired = woken->get_future();
      const auto sub = broker().waiters().subscribe(topics, [woken] { woken->set_value(); });
      const auto r = get(id);
      if (r.status().code() == Code::kNotFound) {
        broker().waiters().unsubscribe(sub);
        return;
      }
      if (fired.wait_until(deadline) != std::future_status::ready) {
        broker().waiters().unsubscribe(sub);
        throw std::runtime_error("timed out waiting for job " + id.to_string() + " to be purged; " +
                                 (r.is_ok() ? "it is " + std::string(to_string(r->record.state))
                                            : describe(r.status())));
      }
    }
  }
  JobView wait_for_state(const JobId& id, JobState state) {
    return wait_for(
        id, [state](const JobView& v) { return v.record.state == state; },
        "it is " + std::string(to_string(state)));
  }

 protected:  // a backend's own tests may open a second broker on the store
  std::unique_ptr<BrokerStore> store_;
  std::unique_ptr<Broker> broker_;
};

}  // namespace errand::conformance
