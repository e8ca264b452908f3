// A fixed set of threads, each with its own PostgreSQL connection, that run
// the store's transactions. libpq calls block, so each runs on a thread of
// its own and never on an I/O thread; a connection that breaks is opened
// again by the next task on its thread.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres/pg_connection.hpp"

namespace errand::postgres {

// What every connection of an instance does right after it connects.
struct PgSessionSetup {
  std::string url;
  std::string instance;  // errand.instance: how its notifications are told apart
  std::chrono::milliseconds answer_timeout{0};  // PgConnection's
};

// A thread's connection, opened on first use.
class PgSession {
 public:
  explicit PgSession(const PgSessionSetup& setup) : setup_(setup) {}
  // Throws PgError (connection_lost()) when it cannot connect.
  PgConnection& connection();
  // Forgets a broken connection: the next connection() opens a new one.
  void drop() { conn_.reset(); }

 private:
  const PgSessionSetup& setup_;
  std::unique_ptr<PgConnection> conn_;
};

// Opens a connection with the instance's settings; throws PgError.
std::unique_ptr<PgConnection> connect(const PgSessionSetup& setup);

class PgPool {
 public:
  using Task = std::function<void(PgSession&)>;
  PgPool(PgSessionSetup setup, int threads);
  ~PgPool() { stop(); }
  void post(Task task);
  // Runs what was posted, then joins the threads. Idempotent.
  void stop();

 private:
  // A thread waiting for a task: post() hands it one, so that no other
  // thread takes it meanwhile (and this one were woken for nothing).
  struct Idle {
    std::condition_variable wake;
    Task task;  // GUARDED_BY(mutex_)
  };
  void run();

  const PgSessionSetup setup_;
  std::mutex mutex_;
  std::deque<Task> tasks_;  // GUARDED_BY(mutex_), for the busy ones when none is idle
  // The last to go idle is woken first: under a light load the same few
  // threads and PostgreSQL backends do all the work, with warm caches.
  std::vector<Idle*> idle_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;    // GUARDED_BY(mutex_)
  std::vector<std::thread> threads_;
};

}  // namespace errand::postgres
