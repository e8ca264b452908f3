// The spdlog side of log.hpp: a UTC timestamp and the level around the
// rendered line, written by spdlog's async logger.
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "logging/log.hpp"

namespace errand::log {
namespace {

// Lines waiting for the writer thread; beyond it the oldest are dropped.
constexpr std::size_t kQueueLines = 8192;

// Set before any thread logs (configure() runs at start-up).
Format current_format = Format::kText;

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// "%*": the level as the flag spells it (warn, not spdlog's "warning").
class LevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view name = msg.level == spdlog::level::warn    ? "warn"
                            : msg.level == spdlog::level::err   ? "error"
                            : msg.level == spdlog::level::debug ? "debug"
                                                                : "info";
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LevelFlag>();
  }
};

std::unique_ptr<spdlog::formatter> line_formatter(Format format) {
  // ISO 8601 in UTC with milliseconds; the JSON line is one object.
  const char* pattern = format == Format::kJson
                            ? R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%*",%v})"
                            : "%Y-%m-%dT%H:%M:%S.%eZ %^%*%$ %v";
  auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  f->add_flag<LevelFlag>('*').set_pattern(pattern);
  return f;
}

}  // namespace

void configure(Format format, Level min_level, Writer writer) {
  spdlog::sink_ptr sink;
  if (format == Format::kJson) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();  // no colour codes in JSON
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  }
  sink->set_formatter(line_formatter(format));
  std::shared_ptr<spdlog::logger> logger;
  if (writer == Writer::kBackground) {
    spdlog::init_thread_pool(kQueueLines, 1);
    logger = std::make_shared<spdlog::async_logger>("errand", sink, spdlog::thread_pool(),
                                                    spdlog::async_overflow_policy::overrun_oldest);
  } else {
    logger = std::make_shared<spdlog::logger>("errand", sink);
  }
  logger->set_level(to_spdlog(min_level));
  current_format = format;
  spdlog::set_default_logger(std::move(logger));
}

void shutdown() {
  // Keep the logger until spdlog::shutdown() has joined the writer thread:
  // destroyed on that thread (libspdlog, not instrumented) it would look to
  // ThreadSanitizer like a race with the last line written.
  const std::shared_ptr<spdlog::logger> keep = spdlog::default_logger();
  spdlog::shutdown();
}

bool enabled(Level level) { return spdlog::default_logger_raw()->should_log(to_spdlog(level)); }

void write(Level level, std::string_view message, std::span<const Field> fields) {
  auto* logger = spdlog::default_logger_raw();
  const auto lvl = to_spdlog(level);
  if (!logger->should_log(lvl)) return;
  const std::string line = render(current_format, message, fields);
  logger->log(lvl, spdlog::string_view_t(line.data(), line.size()));
}

std::uint64_t dropped() {
  auto pool = spdlog::thread_pool();
  return pool ? pool->overrun_counter() : 0;
}

}  // namespace errand::log
