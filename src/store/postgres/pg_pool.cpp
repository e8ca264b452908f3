#include "store/postgres/pg_pool.hpp"

namespace errand::postgres {

std::unique_ptr<PgConnection> connect(const PgSessionSetup& setup) {
  auto c = std::make_unique<PgConnection>(setup.url, setup.answer_timeout);
  c->exec(
      "SELECT set_config('errand.instance', $1, false), "
      "set_config('application_name', 'errand ' || $1, false)",
      PgParams().text(setup.instance));
  return c;
}

PgConnection& PgSession::connection() {
  if (conn_ && !conn_->alive()) conn_.reset();
  if (!conn_) conn_ = connect(setup_);
  return *conn_;
}

PgPool::PgPool(PgSessionSetup setup, int threads) : setup_(std::move(setup)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

void PgPool::post(Task task) {
  std::lock_guard lock(mutex_);
  if (idle_.empty()) {
    tasks_.push_back(std::move(task));  // the first thread done takes it
    return;
  }
  Idle* next = idle_.back();
  idle_.pop_back();
  next->task = std::move(task);
  next->wake.notify_one();
}

void PgPool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    for (Idle* idle : idle_) idle->wake.notify_one();
    idle_.clear();
  }
  for (auto& t : threads_) t.join();
}

void PgPool::run() {
  PgSession session(setup_);
  try {
    session.connection();  // now, rather than in the first request's time
  } catch (const PgError&) {
    // The first task tries again, and answers its caller if it cannot.
  }
  Idle me;
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      if (!tasks_.empty()) {
        task = std::move(tasks_.front());
        tasks_.pop_front();
      } else if (stopping_) {
        return;  // nothing left to run
      } else {
        idle_.push_back(&me);
        me.wake.wait(lock, [this, &me] { return me.task || stopping_; });
        if (!me.task) continue;  // stopping: runs what is left, if anything
        task = std::move(me.task);
        me.task = nullptr;
      }
    }
    task(session);
  }
}

}  // namespace errand::postgres
