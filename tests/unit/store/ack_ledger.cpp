#include "ack_ledger.hpp"

#include <chrono>
#include <random>
#include <thread>

#include "broker_conformance.hpp"

namespace errand::testing {
namespace {

using conformance::await_result;

constexpr std::size_t kProblemsKept = 10;
// Long enough that no lease runs out while a test runs: an expired lease
// would legitimately move its job back to the queue.
constexpr std::int64_t kLeaseMs = 3'600'000;

// Every job of `queues`, newest first, with payloads; throws when the broker
// cannot list them.
std::vector<JobView> all_jobs(Broker& broker, const std::vector<std::string>& queues) {
  std::vector<JobView> out;
  for (const auto& q : queues) {
    ListSpec spec;
    spec.queue = q;
    spec.limit = 1000;
    for (;;) {
      auto page = conformance::must(
          await_result<JobPage>([&](auto done) { broker.list(spec, std::move(done)); }), "list");
      for (auto& v : page.jobs) out.push_back(std::move(v));
      if (!page.next) break;
      spec.before = page.next;
    }
  }
  return out;
}

}  // namespace

// ---- AckLedger ------------------------------------------------------------------------

void AckLedger::submit_tried(const std::string& payload) {
  std::lock_guard lock(mutex_);
  payloads_tried_.insert(payload);
}

void AckLedger::submit_acked(const JobId& id, const std::string& payload) {
  std::lock_guard lock(mutex_);
  JobFacts& f = jobs_[id];
  f.payload = payload;
  f.submit_acked = true;
  ++acked_ops_;
}

void AckLedger::lease_failed() {
  std::lock_guard lock(mutex_);
  ++leases_failed_;
}

void AckLedger::lease_acked(const JobId& id, const std::string& token, const std::string& payload) {
  std::lock_guard lock(mutex_);
  JobFacts& f = jobs_[id];
  f.payload = payload;
  f.lease = token;
  ++acked_ops_;
}

void AckLedger::ack_tried(const JobId& id) {
  std::lock_guard lock(mutex_);
  jobs_[id].ack_tried = true;
}

void AckLedger::ack_acked(const JobId& id) {
  std::lock_guard lock(mutex_);
  jobs_[id].ack_acked = true;
  ++acked_ops_;
}

std::uint64_t AckLedger::acknowledged() const {
  std::lock_guard lock(mutex_);
  return acked_ops_;
}

std::optional<JobId> AckLedger::an_acknowledged_job() const {
  std::lock_guard lock(mutex_);
  for (const auto& [id, facts] : jobs_) {
    if (facts.submit_acked) return id;
  }
  return std::nullopt;
}

AckLedger::Report AckLedger::check(Broker& broker, const std::vector<std::string>& queues,
                                   bool lease_all) const {
  std::lock_guard lock(mutex_);
  Report r;
  auto problem = [&r](std::uint64_t& counter, std::string what) {
    ++counter;
    if (r.problems.size() < kProblemsKept) r.problems.push_back(std::move(what));
  };
  std::map<JobId, JobView> found;
  for (auto& v : all_jobs(broker, queues)) found.emplace(v.record.id, std::move(v));

  for (const auto& [id, facts] : jobs_) {
    const std::string name = "job " + id.to_string() + " (" + facts.payload + ")";
    r.checked += (facts.submit_acked ? 1 : 0) + (facts.lease ? 1 : 0) + (facts.ack_acked ? 1 : 0);
    const auto it = found.find(id);
    if (it == found.end()) {
      problem(r.lost, name + ": acknowledged, it is gone");
      continue;
    }
    if (!facts.submit_acked) ++r.indeterminate;  // its submit failed, yet it was leased
    const JobRecord& rec = it->second.record;
    if (it->second.payload_json != facts.payload) {
      problem(r.lost, name + ": payload is now " + it->second.payload_json);
    }
    const std::string state(to_string(rec.state));
    if (facts.ack_acked) {
      if (rec.state != JobState::kSucceeded) {
        problem(r.lost, name + ": its ack was acknowledged, it is " + state);
      }
    } else if (facts.lease) {
      const bool still_leased = rec.state == JobState::kRunning && rec.lease_token == *facts.lease;
      const bool acked_maybe = facts.ack_tried && rec.state == JobState::kSucceeded;
      if (!still_leased && !acked_maybe) {
        problem(r.lost, name + ": its lease was acknowledged, it is " + state +
                            (rec.state == JobState::kRunning ? " under another token" : ""));
      }
      if (acked_maybe) ++r.indeterminate;
    } else if (rec.state == JobState::kRunning) {
      // Leased by a lease whose answer was an error.
      if (leases_failed_ == 0) problem(r.unexplained, name + ": running, never leased");
      ++r.indeterminate;
    } else if (rec.state != JobState::kQueued) {
      problem(r.unexplained, name + ": " + state + " without a lease");
    }
  }
  for (const auto& [id, v] : found) {
    if (jobs_.count(id)) continue;
    const std::string name = "job " + id.to_string() + " (" + v.payload_json + ")";
    if (!payloads_tried_.count(v.payload_json)) {
      problem(r.unexplained, name + ": nobody submitted it");
    } else if (v.record.state == JobState::kRunning && leases_failed_ == 0) {
      problem(r.unexplained, name + ": running, never leased");
    } else if (v.record.state != JobState::kQueued && v.record.state != JobState::kRunning) {
      problem(r.unexplained, name + ": " + std::string(to_string(v.record.state)));
    }
    ++r.indeterminate;  // its submit failed, yet it was stored
  }

  if (lease_all) {
    for (;;) {
      LeaseSpec spec;
      spec.queues = queues;
      spec.worker = "ledger-check";
      spec.max = 1000;
      auto leased = conformance::must(await_result<std::vector<JobView>>([&](auto done) {
                                        broker.lease(std::move(spec), std::move(done));
                                      }),
                                      "lease after the check");
      if (leased.empty()) break;
      for (const auto& v : leased) {
        const auto it = jobs_.find(v.record.id);
        if (it != jobs_.end() && (it->second.ack_acked || it->second.lease)) {
          problem(r.lost, "job " + v.record.id.to_string() + " (" + it->second.payload +
                              "): delivered again after an acknowledged " +
                              (it->second.ack_acked ? "ack" : "lease"));
        }
      }
    }
  }
  return r;
}

// ---- Workload -------------------------------------------------------------------------

Workload::Workload(Broker& broker, AckLedger& ledger, Options options)
    : broker_(broker), ledger_(ledger), options_(std::move(options)) {
  for (int t = 0; t < options_.threads; ++t) threads_.emplace_back([this, t] { run(t); });
}

Workload::~Workload() {
  stop();
  join();
}

void Workload::stop() { stop_ = true; }

void Workload::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Workload::run(int thread) {
  std::mt19937_64 rng(options_.seed * 7919 + static_cast<std::uint64_t>(thread));
  std::vector<JobView> held;  // leased by this thread, not acked yet
  int submitted = 0;
  const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  bool failed = false;  // in this operation: a client would back off
  const auto ack = [&](const JobView& v) {
    ledger_.ack_tried(v.record.id);
    auto r = await_result<JobState>([&](auto done) {
      broker_.ack(AckSpec{v.record.id, v.record.lease_token, "{\"ok\":true}"}, std::move(done));
    });
    if (r) ledger_.ack_acked(v.record.id);
    failed = failed || !r;
  };
  for (int op = 0; !stop_ && (options_.ops_per_thread == 0 || op < options_.ops_per_thread); ++op) {
    failed = false;
    const auto roll = pick(100);
    const std::string& queue = options_.queues[pick(options_.queues.size())];
    if (roll < 55 || (roll >= 85 && held.empty())) {
      std::vector<SubmitSpec> specs;
      std::vector<std::string> payloads;
      const std::size_t n = 1 + pick(3);
      for (std::size_t i = 0; i < n; ++i) {
        payloads.push_back("{\"t\":" + std::to_string(thread) +
                           ",\"n\":" + std::to_string(submitted++) + "}");
        ledger_.submit_tried(payloads.back());
        SubmitSpec s = conformance::job(queue, payloads.back());
        s.lease_ms = kLeaseMs;
        specs.push_back(std::move(s));
      }
      auto r = await_result<std::vector<SubmitOutcome>>(
          [&](auto done) { broker_.submit(std::move(specs), std::move(done)); });
      if (r) {
        for (std::size_t i = 0; i < r->size(); ++i) {
          ledger_.submit_acked((*r)[i].job.record.id, payloads[i]);
        }
      }
      failed = !r;
    } else if (roll < 85) {
      LeaseSpec spec = conformance::lease_spec({queue}, 1 + static_cast<int>(pick(2)), kLeaseMs);
      spec.worker = "worker-" + std::to_string(thread);
      auto r = await_result<std::vector<JobView>>(
          [&](auto done) { broker_.lease(std::move(spec), std::move(done)); });
      if (!r) {
        ledger_.lease_failed();
        failed = true;
      } else {
        for (auto& v : *r) {
          ledger_.lease_acked(v.record.id, v.record.lease_token, v.payload_json);
          if (pick(100) < 70) {
            ack(v);
          } else {
            held.push_back(std::move(v));
          }
        }
      }
    } else {
      const std::size_t i = pick(held.size());
      ack(held[i]);
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
    }
    ++answered_;
    // As a client honouring Retry-After would, only much shorter.
    if (failed) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace errand::testing
