#include "fixtures.hpp"

#include <cstdio>
#include <cstdlib>

namespace errand::fuzz {
namespace {

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.is_ok()) {
    std::fprintf(stderr, "fuzz: %s failed: %s\n", what, r.status().message().c_str());
    std::abort();
  }
  return std::move(r).value();
}

SubmitSpec job(std::string queue, std::string payload) {
  SubmitSpec s;
  s.queue = std::move(queue);
  s.payload_json = std::move(payload);
  return s;
}

JobId submit(Broker& broker, SubmitSpec spec) {
  std::vector<SubmitSpec> specs{std::move(spec)};
  auto out = must(call<std::vector<SubmitOutcome>>(
                      [&](auto cb) { broker.submit(std::move(specs), std::move(cb)); }),
                  "submit");
  return out.front().job.record.id;
}

// Leases the one job of `queue` (each fixture has a queue of its own).
JobView lease_one(Broker& broker, const std::string& queue, std::int64_t lease_ms = 60'000) {
  LeaseSpec spec;
  spec.queues = {queue};
  spec.worker = "fuzz-worker";
  spec.lease_ms = lease_ms;
  auto jobs = must(
      call<std::vector<JobView>>([&](auto cb) { broker.lease(std::move(spec), std::move(cb)); }),
      "lease");
  if (jobs.empty()) {
    std::fprintf(stderr, "fuzz: nothing to lease on %s\n", queue.c_str());
    std::abort();
  }
  return std::move(jobs.front());
}

void ack(Broker& broker, const JobView& leased, std::string result) {
  must(
      call<JobState>([&](auto cb) {
        broker.ack({leased.record.id, leased.record.lease_token, std::move(result)}, std::move(cb));
      }),
      "ack");
}

void fail(Broker& broker, const JobView& leased, bool retry) {
  FailSpec spec;
  spec.id = leased.record.id;
  spec.lease = leased.record.lease_token;
  spec.error = JobError{"card declined", "PaymentError", "issuer said no", 0};
  spec.retry = retry;
  spec.retry_in_ms = 3'600'000;
  must(call<FailOutcome>([&](auto cb) { broker.fail(std::move(spec), std::move(cb)); }), "fail");
}

}  // namespace

Fixtures populate(Broker& broker, const std::string& prefix) {
  for (const char* queue : {"-queued", "-scheduled", "-running", "-done", "-dead", "-retry",
                            "-cancel", "-inventory", "-payments", "-mail", "-bank"}) {
    must(call<QueueStats>([&](auto cb) {
           broker.configure_queue(prefix + queue, {.max_queued = 0}, std::move(cb));
         }),
         "configure_queue");
    must(
        call<QueueStats>([&](auto cb) { broker.set_paused(prefix + queue, false, std::move(cb)); }),
        "set_paused");
  }
  Fixtures f;
  const Millis now = now_millis();

  SubmitSpec queued = job(prefix + "-queued", R"({"to":"ada@example.com","n":[1,2.5,"x"]})");
  queued.priority = 5;
  queued.tags = {"mail", "vip"};
  queued.idempotency_key = prefix + "-key";
  queued.deadline = now + 86'400'000;
  queued.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  f.queued = submit(broker, std::move(queued));

  SubmitSpec scheduled = job(prefix + "-scheduled", "null");
  scheduled.run_at = now + 3'600'000;
  scheduled.backoff = Backoff{250, 1.5, 60'000, 0.1};
  submit(broker, std::move(scheduled));

  submit(broker, job(prefix + "-running", R"({"step":"resize"})"));
  const JobView running = lease_one(broker, prefix + "-running", 86'400'000);
  must(call<HeartbeatOutcome>([&](auto cb) {
         broker.heartbeat({running.record.id, running.record.lease_token, std::nullopt,
                           R"({"percent":40,"message":"half way","data":{"rows":12}})"},
                          std::move(cb));
       }),
       "heartbeat");
  f.running = running.record.id;
  f.lease = running.record.lease_token;

  submit(broker, job(prefix + "-done", R"({"image":"cat.png"})"));
  const JobView done = lease_one(broker, prefix + "-done");
  ack(broker, done, R"({"url":"https://example.com/cat.png"})");
  f.succeeded = done.record.id;

  SubmitSpec once = job(prefix + "-dead", R"({"card":"4242"})");
  once.max_attempts = 1;
  f.failed = submit(broker, std::move(once));
  fail(broker, lease_one(broker, prefix + "-dead"), false);

  submit(broker, job(prefix + "-retry", "[]"));
  fail(broker, lease_one(broker, prefix + "-retry"), true);  // scheduled, with its error

  const JobId cancelled = submit(broker, job(prefix + "-cancel", "{}"));
  must(call<JobView>([&](auto cb) { broker.cancel(cancelled, std::move(cb)); }), "cancel");

  // A running flow: reserve (compensable) -> charge, and notify beside them.
  FlowSpec flow;
  flow.name = "checkout";
  flow.idempotency_key = prefix + "-order-7";
  flow.deadline = now + 86'400'000;
  FlowStepSpec reserve{"reserve", {}, job(prefix + "-inventory", R"({"sku":"A1"})"), {}};
  reserve.compensate = job(prefix + "-inventory", R"({"release":"A1"})");
  FlowStepSpec charge{"charge", {"reserve"}, job(prefix + "-payments", R"({"cents":1299})"), {}};
  FlowStepSpec notify{"notify", {}, job(prefix + "-mail", R"({"to":"ada"})"), {}};
  flow.steps = {reserve, charge, notify};
  auto submitted = must(
      call<FlowSubmitOutcome>([&](auto cb) { broker.submit_flow(std::move(flow), std::move(cb)); }),
      "submit_flow");
  f.flow = submitted.flow.id;

  // A flow that fails and compensates: hold succeeds, pay fails for good.
  FlowSpec failing;
  failing.name = "transfer";
  FlowStepSpec hold{"hold", {}, job(prefix + "-bank", R"({"hold":10})"), {}};
  hold.compensate = job(prefix + "-bank", R"({"unhold":10})");
  FlowStepSpec pay{"pay", {"hold"}, job(prefix + "-bank", R"({"pay":10})"), {}};
  pay.job.max_attempts = 1;
  failing.steps = {hold, pay};
  must(call<FlowSubmitOutcome>(
           [&](auto cb) { broker.submit_flow(std::move(failing), std::move(cb)); }),
       "submit_flow");
  ack(broker, lease_one(broker, prefix + "-bank"), R"({"hold_id":"h-1"})");
  fail(broker, lease_one(broker, prefix + "-bank"), false);  // pay: the flow compensates
  return f;
}

}  // namespace errand::fuzz
