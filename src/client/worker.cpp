// errand::Worker: three kinds of threads around one job list.
//
//   lease loop (the thread in run())  leases `max = free slots` with a long
//                                     poll and queues what it gets;
//   executors (`concurrency`)         run the handler, then ack or fail;
//   heartbeat thread                  renews every job in flight, learns
//                                     cancellations, retries progress that
//                                     could not be sent.
//
// Each thread has its own Client; a handler's progress() goes out at once on
// its executor's. stop() only stores `stop_requested`; the lease loop sees it
// within about 100 ms (its Client watches the flag, its sleeps are sliced),
// stops leasing and wakes the others. Executors run what was leased and
// report it; the heartbeat thread runs until they are done.
#include "errand/worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <exception>
#include <thread>

#include "client/curl_transport.hpp"
#include "client/json_mapping.hpp"
#include "client/reconnect.hpp"
#include "client/url.hpp"
#include "client/worker_job.hpp"

namespace errand {

namespace {

using client_detail::SteadyTime;
using client_detail::WorkerJob;
using Clock = std::chrono::steady_clock;

// The server's limits on an error's message and detail.
constexpr std::size_t kMaxErrorTextBytes = 64 * 1024;

std::string default_worker_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  return std::string(host) + "/" + std::to_string(getpid());
}

std::string describe(const LeasedJob& job) {
  return "job " + job.id + " (" + job.queue + ", attempt " + std::to_string(job.attempt) + ")";
}

}  // namespace

struct Worker::Impl {
  WorkerOptions options;
  Handler handler;
  std::chrono::milliseconds heartbeat_interval;
  client_detail::WorkerLog log;
  client_detail::ServerPresence presence;

  std::atomic<bool> stop_requested{false};   // stop() writes only this
  std::atomic<bool> heartbeats_over{false};  // stops the heartbeat Client's calls
  std::atomic<std::uint64_t> succeeded{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> lease_lost{0};

  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::shared_ptr<WorkerJob>> ready;       // GUARDED_BY(mutex): leased, not started
  std::vector<std::shared_ptr<WorkerJob>> in_flight;  // GUARDED_BY(mutex): leased, not reported
  bool leasing_over = false;                          // GUARDED_BY(mutex)
  bool executors_over = false;                        // GUARDED_BY(mutex)
  bool heartbeat_wanted = false;                      // GUARDED_BY(mutex): progress came
  bool run_active = false;                            // GUARDED_BY(mutex)

  Impl(WorkerOptions o, Handler h)
      : options(std::move(o)),
        handler(std::move(h)),
        heartbeat_interval(options.heartbeat_interval.count() > 0 ? options.heartbeat_interval
                                                                  : options.lease / 3),
        log(options.log),
        presence(log, client_detail::trim_base_url(options.client.server)) {
    if (options.name.empty()) options.name = default_worker_name();
    heartbeat_interval = std::max(heartbeat_interval, std::chrono::milliseconds(1));
  }

  void check_options() const {
    if (options.queues.empty()) throw Error(Error::Kind::kUsage, 0, "a worker needs a queue");
    if (options.concurrency < 1)
      throw Error(Error::Kind::kUsage, 0, "a worker's concurrency must be at least 1");
    if (options.lease.count() < 1)
      throw Error(Error::Kind::kUsage, 0, "a worker's lease must be at least 1 ms");
    if (!handler) throw Error(Error::Kind::kUsage, 0, "a worker needs a handler");
  }

  ClientOptions client_options(const std::atomic<bool>* stop) const {
    ClientOptions o = options.client;
    o.stop = stop;
    return o;
  }

  // Sleeps up to `d`; false when stop() came first. stop() cannot notify (it
  // must be async-signal-safe), hence the slices.
  bool sleep_unless_stopped(std::chrono::milliseconds d) {
    const auto until = Clock::now() + d;
    while (!stop_requested.load()) {
      const auto now = Clock::now();
      if (now >= until) return true;
      std::this_thread::sleep_for(
          std::min<Clock::duration>(until - now, client_detail::kStopPollInterval));
    }
    return false;
  }

  // --- lease loop ---------------------------------------------------------

  void lease_loop(Client& client) {
    client_detail::Backoff backoff(options.reconnect_initial, options.reconnect_max);
    while (!stop_requested.load()) {
      int free = 0;
      {
        std::unique_lock lock(mutex);
        while (static_cast<int>(in_flight.size()) >= options.concurrency &&
               !stop_requested.load()) {
          changed.wait_for(lock, client_detail::kStopPollInterval);
        }
        free = options.concurrency - static_cast<int>(in_flight.size());
      }
      if (stop_requested.load()) break;
      LeaseRequest request;
      request.queues = options.queues;
      request.worker = options.name;
      request.max = free;
      request.lease_ms = options.lease.count();
      request.wait_seconds = options.poll_wait_seconds;
      const SteadyTime sent = Clock::now();
      std::vector<LeasedJob> jobs;
      try {
        jobs = client.lease(request);
      } catch (const Error& e) {
        if (e.kind() == Error::Kind::kStopped) break;
        if (!e.retryable()) throw;
        presence.away(e.what());
        if (!sleep_unless_stopped(backoff.next())) break;
        continue;
      }
      presence.back();
      backoff.reset();
      if (jobs.empty()) continue;
      {
        std::lock_guard lock(mutex);
        for (auto& job : jobs) {
          auto w = std::make_shared<WorkerJob>(std::move(job), sent + options.lease,
                                               sent + heartbeat_interval, stop_requested,
                                               [this] { wake_heartbeats(); });
          ready.push_back(w);
          in_flight.push_back(std::move(w));
        }
        heartbeat_wanted = true;  // its schedule has new, maybe earlier, entries
      }
      changed.notify_all();
    }
  }

  // --- executors ----------------------------------------------------------

  void executor_loop(Client& client) {
    for (;;) {
      std::shared_ptr<WorkerJob> w;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [this] { return !ready.empty() || leasing_over; });
        if (ready.empty()) return;
        w = std::move(ready.front());
        ready.pop_front();
      }
      execute(client, *w);
      {
        std::lock_guard lock(mutex);
        in_flight.erase(std::find(in_flight.begin(), in_flight.end(), w));
      }
      changed.notify_all();
    }
  }

  void execute(Client& client, WorkerJob& w) {
    std::optional<std::string> result;
    std::optional<FailRequest> failure;
    // The handler's progress goes out on this thread's Client, which is idle
    // while the handler runs.
    w.set_progress_sender([this, &client](WorkerJob& job, Progress p) {
      if (job.lease_lost()) return;
      if (presence.is_away()) {
        job.keep_progress(std::move(p), Clock::now());  // the heartbeat thread retries it
        return;
      }
      renew(client, job, std::move(p), nullptr);
    });
    try {
      result = handler(w);
    } catch (const JobFailure& f) {
      failure = f.request();
    } catch (const std::exception& e) {
      failure = FailRequest{e.what(), "exception", {}, true, std::nullopt};
    } catch (...) {
      failure = FailRequest{"the handler threw something that is not a std::exception",
                            "exception",
                            {},
                            true,
                            std::nullopt};
    }
    w.set_progress_sender(nullptr);
    w.finish();
    if (result) {
      try {
        client_detail::require_json(*result, "handler's result");
      } catch (const Error& e) {
        failure =
            FailRequest{e.what(), "invalid_result",
                        client_detail::truncate_utf8(std::move(*result), 1024), true, std::nullopt};
        result.reset();
      }
    }
    if (failure) {
      failure->message =
          client_detail::truncate_utf8(std::move(failure->message), kMaxErrorTextBytes);
      failure->detail =
          client_detail::truncate_utf8(std::move(failure->detail), kMaxErrorTextBytes);
    }
    const LeasedJob& job = w.job();
    if (w.lease_lost()) {
      ++lease_lost;
      log(describe(job) + ": the lease was lost while the handler ran; its outcome is discarded");
      return;
    }
    client_detail::Backoff backoff(options.reconnect_initial, options.reconnect_max);
    for (;;) {
      try {
        if (result) {
          client.ack(job.id, job.lease, *result);
          ++succeeded;
        } else {
          client.fail(job.id, job.lease, *failure);
          ++failed;
        }
        presence.back();
        return;
      } catch (const Error& e) {
        if (e.kind() == Error::Kind::kHttp && e.status() == 409) {
          ++lease_lost;
          log(describe(job) + ": the server refused its " + (result ? "ack" : "fail") +
              ", the lease was lost: " + e.what());
          return;
        }
        const auto delay = backoff.next();
        if (!e.retryable() || Clock::now() + delay >= w.lease_deadline()) {
          log(describe(job) + ": could not report its outcome (" + e.what() +
              "); the server will retry it when the lease runs out");
          return;
        }
        presence.away(e.what());
        // Not cut short by stop(): reporting what ran is what a stop waits for.
        std::this_thread::sleep_for(delay);
      }
    }
  }

  // --- heartbeats ---------------------------------------------------------

  void wake_heartbeats() {
    {
      std::lock_guard lock(mutex);
      heartbeat_wanted = true;
    }
    changed.notify_all();
  }

  void heartbeat_loop(Client& client) {
    client_detail::Backoff backoff(options.reconnect_initial, options.reconnect_max);
    for (;;) {
      std::vector<std::shared_ptr<WorkerJob>> due;
      {
        std::unique_lock lock(mutex);
        for (;;) {
          if (executors_over) return;
          const auto now = Clock::now();
          SteadyTime next = SteadyTime::max();
          for (const auto& w : in_flight) {
            if (w->heartbeat_due(now)) due.push_back(w);
            next = std::min(next, w->next_heartbeat());
          }
          heartbeat_wanted = false;
          if (!due.empty()) break;
          changed.wait_until(lock, std::min(next, now + std::chrono::seconds(1)),
                             [this] { return heartbeat_wanted || executors_over; });
        }
      }
      for (const auto& w : due) renew(client, *w, w->take_progress(), &backoff);
    }
  }

  // One heartbeat for `w`, carrying `progress` if any. On a failure worth
  // retrying, the heartbeat thread tries again after `backoff` (or the
  // shortest reconnect delay), carrying the progress.
  void renew(Client& client, WorkerJob& w, std::optional<Progress> progress,
             client_detail::Backoff* backoff) {
    const LeasedJob& job = w.job();
    const SteadyTime sent = Clock::now();
    try {
      const HeartbeatOutcome out =
          client.heartbeat(job.id, job.lease, progress, options.lease.count());
      w.renewed(sent + options.lease);
      w.schedule_heartbeat(sent + heartbeat_interval);
      if (out.cancel_requested && !w.cancel_requested()) {
        w.mark_cancel_requested();
        log(describe(job) + ": cancellation requested");
      }
      presence.back();
      if (backoff) backoff->reset();
    } catch (const Error& e) {
      if (e.kind() == Error::Kind::kStopped) return;
      if (e.kind() == Error::Kind::kHttp && (e.status() == 409 || e.status() == 404)) {
        w.mark_lease_lost();
        w.schedule_heartbeat(SteadyTime::max());
        log(describe(job) + ": lease lost (" + e.what() + ")");
        return;
      }
      if (!e.retryable()) {
        // The server refused this heartbeat's content (a bad progress, say):
        // drop it and renew as usual.
        log(describe(job) + ": heartbeat refused: " + e.what());
        w.schedule_heartbeat(sent + heartbeat_interval);
        return;
      }
      presence.away(e.what());
      const auto delay = backoff ? backoff->next() : options.reconnect_initial;
      const SteadyTime retry_at = Clock::now() + std::min(delay, heartbeat_interval);
      w.schedule_heartbeat(retry_at);
      if (progress) w.return_progress(std::move(*progress), retry_at);
    }
  }

  // --- run ----------------------------------------------------------------

  void run() {
    check_options();
    {
      std::lock_guard lock(mutex);
      if (run_active) throw Error(Error::Kind::kUsage, 0, "Worker::run() is already running");
      run_active = true;
      leasing_over = false;
      executors_over = false;
    }
    heartbeats_over = false;
    std::exception_ptr fatal;
    // Every Client is made here, so that a bad server URL is thrown by run()
    // instead of ending a thread.
    std::optional<Client> lease_client;
    std::optional<Client> heartbeat_client;
    std::vector<Client> executor_clients;
    try {
      lease_client.emplace(client_options(&stop_requested));
      heartbeat_client.emplace(client_options(&heartbeats_over));
      for (int i = 0; i < options.concurrency; ++i) {
        executor_clients.emplace_back(client_options(nullptr));
      }
    } catch (...) {
      std::lock_guard lock(mutex);
      run_active = false;
      throw;
    }
    std::vector<std::thread> executors;
    for (auto& c : executor_clients) executors.emplace_back([this, &c] { executor_loop(c); });
    std::thread heartbeats([this, &heartbeat_client] { heartbeat_loop(*heartbeat_client); });

    try {
      lease_loop(*lease_client);
    } catch (...) {
      fatal = std::current_exception();
    }
    {
      std::lock_guard lock(mutex);
      leasing_over = true;
    }
    changed.notify_all();
    for (auto& t : executors) t.join();
    {
      std::lock_guard lock(mutex);
      executors_over = true;
    }
    heartbeats_over = true;
    changed.notify_all();
    heartbeats.join();
    {
      std::lock_guard lock(mutex);
      run_active = false;
    }
    changed.notify_all();
    if (fatal) std::rethrow_exception(fatal);
  }
};

Worker::Worker(WorkerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Worker::~Worker() {
  stop();
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait(lock, [this] { return !impl_->run_active; });
}

void Worker::run() { impl_->run(); }

void Worker::stop() noexcept { impl_->stop_requested.store(true); }

WorkerStats Worker::stats() const {
  return {impl_->succeeded.load(), impl_->failed.load(), impl_->lease_lost.load()};
}

}  // namespace errand
