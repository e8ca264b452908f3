// The PostgreSQL store's two background threads: the listener, which hears
// other instances' changes (and applications' errand.enqueue calls) through
// LISTEN/NOTIFY, and the sweeper, which applies due timers and backs the
// notifications up.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>
#include <limits>
#include <vector>

#include "logging/log.hpp"
#include "store/postgres/broker_impl.hpp"
#include "store/postgres/job_rows.hpp"

namespace errand::postgres::detail {

namespace {

// Due timers are taken this many at a time, each batch its own transaction.
constexpr int kTimerBatch = 100;
// Queue counts are folded together about this often (queue_counts in schema.cpp).
constexpr Millis kCompactEveryMs = 10'000;
// How soon a sweep looks again at a due timer whose row was locked.
constexpr Millis kBusyRowRetryMs = 10;

}  // namespace

// ---- Listener -----------------------------------------------------------------

void PostgresBroker::stop_listening() {
  if (stop_fd_ < 0) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(stop_fd_, &one, sizeof one);
}

void PostgresBroker::listen_loop() {
  std::unique_ptr<PgConnection> c;
  bool lost = false;  // notifications may have been missed since
  while (!stopping_) {
    if (!c) {
      try {
        c = connect(setup_);
        c->exec("LISTEN errand");
        hearing_changes(true);
        if (lost) {
          log::info("listening to PostgreSQL again");
          healthy_ = true;
          // Whatever changed meanwhile: every waiter and parked lease looks again.
          waiters_.notify_everyone();
          wake_all_parked();
        }
        lost = false;
      } catch (const PgError& e) {
        if (!lost) log::warn("cannot listen to PostgreSQL", {{"reason", e.what()}});
        c.reset();
        hearing_changes(false);
        lost = true;
        healthy_ = false;
        pollfd stop{stop_fd_, POLLIN, 0};
        ::poll(&stop, 1, static_cast<int>(options_.sweep_ms));
        continue;
      }
    }
    pollfd fds[2] = {{c->socket(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) <= 0 || (fds[1].revents & POLLIN)) continue;
    if (!c->consume_input()) {
      log::warn("lost the connection that listens to PostgreSQL");
      c.reset();
      lost = true;
      healthy_ = false;
      hearing_changes(false);
      continue;
    }
    while (auto note = c->next_notification()) on_notification(note->payload);
  }
}

void PostgresBroker::on_notification(std::string_view payload) {
  // '<instance>|<kind>|<value>': sent by PgChange::write, and by the
  // triggers in schema.cpp (errand.enqueue()'s jobs, errand.flows).
  const auto first = payload.find('|');
  if (first == std::string_view::npos || payload.size() < first + 3) return;
  if (payload.substr(0, first) == instance_) return;  // told itself at commit
  const char kind = payload[first + 1];
  const std::string_view value = payload.substr(first + 3);
  if (kind == 'j') {
    // Up to 35 ids, comma-separated.
    for (std::string_view rest = value; !rest.empty();) {
      const auto comma = std::min(rest.find(','), rest.size());
      if (const auto id = JobId::parse(rest.substr(0, comma))) {
        ended_.forget(*id);  // before its waiters wake (ended_jobs.hpp)
        leased_.forget(*id);
        waiters_.notify_all(job_topic(*id));
      }
      rest.remove_prefix(std::min(comma + 1, rest.size()));
    }
  } else if (kind == 'c') {
    on_remote_changes(value);
  } else if (kind == 'f') {
    if (const auto id = JobId::parse(value)) waiters_.notify_all(flow_topic(*id));
  } else if (kind == 'q') {
    const std::string queue(value);
    waiters_.notify_some(queue_topic(queue), 1);
    wake_parked(queue);
  }
}

void PostgresBroker::on_remote_changes(std::string_view list) {
  // '<id> <queue> <from> <to> <at ms>,...' with '-' for no state.
  std::vector<StateChange> changes;
  const bool streamed = cluster_feed_.has_listeners();
  for (std::string_view rest = list; !rest.empty();) {
    const auto comma = std::min(rest.find(','), rest.size());
    std::string_view entry = rest.substr(0, comma);
    rest.remove_prefix(std::min(comma + 1, rest.size()));
    std::string_view fields[5];
    int n = 0;
    for (; n < 5 && !entry.empty(); ++n) {
      const auto space = std::min(entry.find(' '), entry.size());
      fields[n] = entry.substr(0, space);
      entry.remove_prefix(std::min(space + 1, entry.size()));
    }
    const auto id = JobId::parse(fields[0]);
    if (!id) continue;
    // A removal ('-'), an end, or what cannot be read: no longer known
    // unfinished, before its waiters wake (unfinished_jobs.hpp).
    const auto to = n >= 4 ? parse_job_state(fields[3]) : std::nullopt;
    if (!to || is_terminal(*to)) unfinished_.drop(*id);
    ended_.forget(*id);
    leased_.forget(*id);
    waiters_.notify_all(job_topic(*id));
    if (!streamed || n < 5) continue;
    StateChange c;
    c.id = *id;
    c.queue = std::string(fields[1]);
    if (fields[2] != "-") c.from = parse_job_state(fields[2]);
    if (fields[3] != "-") c.to = parse_job_state(fields[3]);
    c.at = std::strtoll(std::string(fields[4]).c_str(), nullptr, 10);
    if (c.from != c.to) changes.push_back(std::move(c));
  }
  cluster_feed_.publish(changes);
}

// ---- Sweeper ------------------------------------------------------------------

void PostgresBroker::sweep_by(Millis at) {
  {
    std::lock_guard lock(sweep_mutex_);
    if (at >= next_sweep_at_) return;
    next_sweep_at_ = at;
  }
  sweep_wake_.notify_all();
}

namespace {
constexpr Millis kNever = std::numeric_limits<Millis>::max();
}  // namespace

void PostgresBroker::sweep_loop() {
  PgSession session(setup_);
  Millis next_compaction = 0;
  while (!stopping_) {
    {
      // A timer set during the pass below lowers this, and is not missed.
      std::lock_guard lock(sweep_mutex_);
      next_sweep_at_ = kNever;
    }
    std::optional<Millis> next_timer;
    try {
      PgConnection& c = session.connection();
      next_timer = run_timers(c, now_millis());
      share_activity(c, now_millis());
      if (now_millis() >= next_compaction) {
        compact_counts(c);
        next_compaction = now_millis() + kCompactEveryMs;
      }
    } catch (const PgError& e) {
      if (e.connection_lost()) {
        session.drop();
        healthy_ = false;
      } else {
        log::warn("the timer sweep failed", {{"reason", e.what()}});
      }
    }
    // Long polls look again, in case a notification was lost.
    wake_all_parked();
    std::unique_lock lock(sweep_mutex_);
    Millis until = std::min(next_sweep_at_, now_millis() + options_.sweep_ms);
    // A timer already due here is one whose row another transaction holds
    // (SKIP LOCKED passed it by): look again soon, but do not spin on it.
    if (next_timer) until = std::min(until, std::max(*next_timer, now_millis() + kBusyRowRetryMs));
    next_sweep_at_ = until;
    while (!stopping_ && now_millis() < next_sweep_at_) {
      sweep_wake_.wait_until(
          lock, std::chrono::system_clock::time_point(std::chrono::milliseconds(next_sweep_at_)));
    }
  }
}

void PostgresBroker::share_activity(PgConnection& c, Millis now) {
  if (now < activity_shared_at_ + kShareActivityEveryMs) return;
  const auto asked = activity_.asked_since(activity_shared_at_, now);
  activity_shared_at_ = now;
  if (asked.empty()) return;
  std::vector<std::string> queues, times;
  for (const auto& [queue, at] : asked) {
    queues.push_back(queue);
    times.push_back(std::to_string(at));
  }
  c.run("share_activity",
        "INSERT INTO errand.worker_activity (queue, asked_at) "
        "SELECT * FROM unnest($1::text[], $2::bigint[]) ORDER BY 1 "
        "ON CONFLICT (queue) DO UPDATE "
        "SET asked_at = greatest(errand.worker_activity.asked_at, excluded.asked_at)",
        PgParams().text_array(queues).text_array(times));
}

std::optional<Millis> PostgresBroker::run_timers(PgConnection& c, Millis now) {
  const std::string head = std::string("SELECT ") + kJobColumns + " FROM errand.jobs WHERE ";
  const std::string tail = " LIMIT " + std::to_string(kTimerBatch) + " FOR UPDATE SKIP LOCKED";
  struct Kind {
    const char* name;
    std::string sql;
    std::function<void(PgConnection&, JobRecord&, PgChange&)> apply;
  };
  const Kind kinds[] = {
      {"due_deadlines",
       head + "state IN ('queued', 'scheduled') AND deadline <= $1 ORDER BY deadline" + tail,
       [this, now](PgConnection& c, JobRecord& r, PgChange& change) {
         expire_job(r, now, change);
         save_job(c, r);
       }},
      {"due_activations", head + "state = 'scheduled' AND run_at <= $1 ORDER BY run_at" + tail,
       [this, now](PgConnection& c, JobRecord& r, PgChange& change) {
         activate_job(r, now, change);
         change.touched(r.id);
         save_job(c, r);
       }},
      {"due_leases",
       head + "state = 'running' AND lease_expires_at <= $1 ORDER BY lease_expires_at" + tail,
       [this, now](PgConnection& c, JobRecord& r, PgChange& change) {
         fail_attempt(r, lease_expired_error(r), true, std::nullopt, unit_random(), now, change);
         save_job(c, r);
       }},
      {"due_purges",
       head + "state IN ('succeeded', 'cancelled', 'expired') AND finished_at <= $1 " +
           "ORDER BY finished_at" + tail,
       [this, now](PgConnection& c, JobRecord& r, PgChange& change) {
         remove_job(c, r, now, change);
       }},
  };
  for (const Kind& kind : kinds) {
    const Millis due =
        kind.name == std::string_view("due_purges") ? now - options_.retention_ms : now;
    for (;;) {
      int taken = 0;
      const Body<Empty> body = [&](PgConnection& tc, PgChange& change) -> Result<Empty> {
        const auto rows = tc.run(kind.name, kind.sql.c_str(), PgParams().integer(due));
        taken = rows.rows();
        for (int i = 0; i < rows.rows(); ++i) {
          JobRecord r = read_job_row(rows, i);
          kind.apply(tc, r, change);
        }
        return Empty{};
      };
      if (auto done = commit_on(c, body); !done) return std::nullopt;
      if (taken < kTimerBatch) break;
    }
  }
  const auto next =
      c.run("next_timer",
            "SELECT least((SELECT min(run_at) FROM errand.jobs WHERE state = 'scheduled'), "
            "(SELECT min(deadline) FROM errand.jobs WHERE state IN ('queued', 'scheduled') "
            "AND deadline IS NOT NULL), "
            "(SELECT min(lease_expires_at) FROM errand.jobs WHERE state = 'running'), "
            "(SELECT min(finished_at) FROM errand.jobs WHERE state IN ('succeeded', 'cancelled', "
            "'expired')) + $1)",
            PgParams().integer(options_.retention_ms));
  const auto next_job = next.optional_integer(0, 0);
  const auto next_flow = purge_flows(c, now);  // pg_flows.cpp
  if (next_job && next_flow) return std::min(*next_job, *next_flow);
  return next_job ? next_job : next_flow;
}

void PostgresBroker::compact_counts(PgConnection& c) {
  // One statement: the rows it deletes are exactly the rows it sums, and
  // rows other transactions add meanwhile stay for the next time.
  c.run("compact_counts",
        "WITH gone AS (DELETE FROM errand.queue_counts RETURNING queue, kind, n) "
        "INSERT INTO errand.queue_counts (queue, kind, n) "
        "SELECT queue, kind, sum(n) FROM gone GROUP BY queue, kind HAVING sum(n) <> 0");
}

}  // namespace errand::postgres::detail
