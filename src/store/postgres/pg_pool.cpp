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
  if (conn_ && !conn_->ok()) conn_.reset();
  if (!conn_) conn_ = connect(setup_);
  return *conn_;
}

PgPool::PgPool(PgSessionSetup setup, int threads) : setup_(std::move(setup)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

void PgPool::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void PgPool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void PgPool::run() {
  PgSession session(setup_);
  try {
    session.connection();  // now, rather than in the first request's time
  } catch (const PgError&) {
    // The first task tries again, and answers its caller if it cannot.
  }
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task(session);
  }
}

}  // namespace errand::postgres
