// What the store's fault tests share: a scratch directory on tmpfs (many
// short runs, each opening RocksDB), the store's options, a log that can be
// silenced or read, and how many runs to do in this build.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "store/embedded/embedded_broker.hpp"

namespace errand::testing {

// A fresh directory, on /dev/shm when there is one, removed with its contents.
class ScratchDir {
 public:
  ScratchDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string pattern = (base / "errand-fault-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Replaces errand's log (logging/log.hpp writes through spdlog's default
// logger) for the life of this object: lines are kept here instead of
// written, so thousands of crashes do not flood the output, and a test can
// count them.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()), sink_(std::make_shared<LineSink>()) {
    auto logger = std::make_shared<spdlog::logger>("captured", sink_);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(std::move(logger));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  // Lines at `level` (spdlog's names: "error", "info"...) that contain `text`.
  int count(std::string_view level, std::string_view text) const {
    int n = 0;
    for (const auto& line : sink_->lines()) {
      if (line.starts_with(std::string(level) + " ") && line.find(text) != std::string::npos) ++n;
    }
    return n;
  }

 private:
  class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::vector<std::string> lines() {
      std::lock_guard lock(mutex_);
      return lines_;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      const auto level = spdlog::level::to_string_view(msg.level);
      lines_.push_back(std::string(level.data(), level.size()) + " " +
                       std::string(msg.payload.data(), msg.payload.size()));
    }
    void flush_() override {}

   private:
    std::vector<std::string> lines_;
  };

  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<LineSink> sink_;
};

// The options of an embedded store in `dir` over `fs` (null: the OS's file
// system) that tries to write again every `retry_ms` after a failed write.
inline embedded::EmbeddedOptions store_options(
    const ScratchDir& dir, std::shared_ptr<rocksdb::FileSystem> fs, Millis retry_ms,
    embedded::Durability durability = embedded::Durability::kFsync) {
  embedded::EmbeddedOptions o;
  o.data_dir = dir.path();
  o.durability = durability;
  o.file_system = std::move(fs);
  o.write_retry_ms = retry_ms;
  return o;
}

// Polls `condition` until it holds or `timeout` passes; whether it held.
// For conditions nothing notifies (a background recovery, counters).
template <typename Condition>
bool eventually(Condition condition,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(20'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

// `env_var` when set to a number, else `plain` (or `sanitized` under ASan or
// TSan, which run several times slower).
inline std::uint64_t runs_from_env(const char* env_var, std::uint64_t plain,
                                   std::uint64_t sanitized) {
  if (const char* v = std::getenv(env_var); v && *v) return std::strtoull(v, nullptr, 10);
  return kSanitized ? sanitized : plain;
}

}  // namespace errand::testing
