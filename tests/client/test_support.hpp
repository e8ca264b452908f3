// Small synchronisation helpers for the client tests: every wait has a
// deadline, and nothing sleeps hoping that something happened meanwhile.
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "errand/worker.hpp"

namespace errand::client_testing {

using namespace std::chrono_literals;

// Counts events; waiters block until it reaches a value or time runs out.
// Thread-safe.
class Counter {
 public:
  void add(int n = 1) {
    {
      std::lock_guard lock(mutex_);
      value_ += n;
    }
    changed_.notify_all();
  }
  [[nodiscard]] int value() const {
    std::lock_guard lock(mutex_);
    return value_;
  }
  // True once the value is at least `n`; false when `d` passed first.
  bool wait_for(int n, std::chrono::milliseconds d) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, d, [&] { return value_ >= n; });
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  int value_ = 0;
};

// A one-shot event.
class Flag {
 public:
  void set() { counter_.add(); }
  [[nodiscard]] bool is_set() const { return counter_.value() > 0; }
  bool wait_for(std::chrono::milliseconds d) const { return counter_.wait_for(1, d); }

 private:
  Counter counter_;
};

// Lines a Worker logged, to wait for one. Thread-safe.
class LogLines {
 public:
  void add(std::string_view line) {
    {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    }
    changed_.notify_all();
  }
  // True once a line containing `text` was logged, waiting up to `d`.
  bool wait_for(std::string_view text, std::chrono::milliseconds d) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, d, [&] {
      for (const auto& l : lines_) {
        if (l.find(text) != std::string::npos) return true;
      }
      return false;
    });
  }
  // How many lines contain `text`.
  [[nodiscard]] int count(std::string_view text) const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& l : lines_) n += l.find(text) != std::string::npos;
    return n;
  }
  [[nodiscard]] std::string all() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<std::string> lines_;
};

// A Worker whose run() goes on on its own thread until stopped.
class RunningWorker {
 public:
  RunningWorker(WorkerOptions options, Handler handler)
      : worker_(std::move(options), std::move(handler)), thread_([this] {
          try {
            worker_.run();
          } catch (...) {
            error_ = std::current_exception();
          }
          returned_.set();
        }) {}
  ~RunningWorker() {
    worker_.stop();
    thread_.join();
  }
  RunningWorker(const RunningWorker&) = delete;
  RunningWorker& operator=(const RunningWorker&) = delete;

  Worker& worker() { return worker_; }
  // True once run() returned (or threw), waiting up to `d`.
  bool returned_within(std::chrono::milliseconds d) const { return returned_.wait_for(d); }
  // What run() threw; REQUIRES: it returned.
  [[nodiscard]] std::exception_ptr error() const { return error_; }

 private:
  Worker worker_;
  Flag returned_;
  std::exception_ptr error_;  // written before returned_ is set
  std::thread thread_;        // last: starts once the members it uses exist
};

}  // namespace errand::client_testing
