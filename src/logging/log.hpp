// The server's log: one line per notable event, as text or JSON
// (`--log-format`), each with named fields (job id, queue, trace id...)
// instead of values pasted into a sentence, so that a log pipeline can index
// them. Never pass payloads, results, error messages or secrets at info level
// or above: they may hold customer data.
//
// Lines are written by a background thread from a bounded queue, so a slow
// stderr never stalls the caller (often the commit thread); when the queue is
// full the oldest lines are dropped and counted (errand_log_lines_dropped_total).
//
// Thread-safe. spdlog stays out of this header: it is included widely.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace errand::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

struct Field {
  using Value = std::variant<std::string_view, std::int64_t, double, bool>;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  template <typename I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool>) Field(std::string_view k, I v)
      : key(k), value(static_cast<std::int64_t>(v)) {}

  std::string_view key;
  Value value;
};

// kBackground: a writer thread and a bounded queue (the server);
// kCaller: the calling thread writes (short-lived commands, start-up).
enum class Writer { kCaller, kBackground };

// Replaces the logger: lines at `min_level` and above go to stderr in
// `format`. REQUIRES: no other thread is logging (call it at start-up).
void configure(Format format, Level min_level, Writer writer);
// Writes what is queued and stops the background thread (at exit).
void shutdown();

bool enabled(Level level);
void write(Level level, std::string_view message, std::span<const Field> fields);
inline void write(Level level, std::string_view message, std::initializer_list<Field> fields = {}) {
  write(level, message, std::span<const Field>(fields.begin(), fields.size()));
}
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kDebug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kError, m, f);
}

// Lines dropped because the queue was full, since configure().
std::uint64_t dropped();

// "text" or "json"; "debug", "info", "warn" or "error".
bool parse_format(std::string_view text, Format& out);
bool parse_level(std::string_view text, Level& out);

// What follows the time and level of one line (exposed for tests): text is
// `message key=value key="quoted value"` (logfmt values), JSON the members
// `"msg":"message","key":value` of the line's object.
std::string render(Format format, std::string_view message, std::span<const Field> fields);

}  // namespace errand::log
