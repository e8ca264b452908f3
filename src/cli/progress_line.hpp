// The stderr protocol of `errand work`: a command reports progress by
// writing a line `errand:progress PERCENT MESSAGE` to its stderr, and makes
// its failure final with a line `errand:no-retry [TYPE]`. Pure.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace errand::cli {

inline constexpr std::string_view kProgressPrefix = "errand:progress";
inline constexpr std::string_view kNoRetryPrefix = "errand:no-retry";
// The longest TYPE of a no-retry line.
inline constexpr std::size_t kMaxErrorType = 64;

struct ProgressLine {
  int percent = 0;  // 0..100
  std::string message;
};

// The progress a stderr line reports, or nullopt when it is an ordinary line.
// PERCENT is a number (fractions are rounded, a trailing % is allowed,
// values outside 0..100 are clamped); MESSAGE is the rest of the line,
// trimmed, possibly empty. A line that starts with the prefix but has no
// number is an ordinary line, so a typo shows up in the error tail instead
// of vanishing. `line` excludes the newline; a trailing CR is ignored.
std::optional<ProgressLine> parse_progress_line(std::string_view line);

// A line `errand:no-retry [TYPE]`: should the attempt fail, it fails for
// good (the job is `failed` whatever attempts it has left), with TYPE as the
// error's type. Returns the TYPE (empty when the line gives none), or
// nullopt for an ordinary line. TYPE is 1 to kMaxErrorType of
// A-Z a-z 0-9 _ . - ; a line with anything else after the prefix is an
// ordinary line, so a typo shows up in the error tail. `line` excludes the
// newline; a trailing CR and surrounding blanks are ignored.
std::optional<std::string> parse_no_retry_line(std::string_view line);

// Spaces out progress reports: each one is a request to the server, and a
// command may print progress in a tight loop. Reports are held and handed
// out by due(), at most one per `min_interval`, the newest replacing any
// held one; flush() hands out the held one whatever the time. Holding even
// the first report until due() means that a report made just before the
// command exits is still held when it does, and can be delivered with the
// outcome instead of racing it. Not thread-safe; pure.
class ProgressThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ProgressThrottle(std::chrono::milliseconds min_interval) : interval_(min_interval) {}

  // Holds `p` (replacing any held report).
  void offer(ProgressLine p) { held_ = std::move(p); }
  // The held report, if the last one handed out is at least min_interval old.
  std::optional<ProgressLine> due(Clock::time_point now);
  // The held report, whatever the time.
  std::optional<ProgressLine> flush();

 private:
  std::chrono::milliseconds interval_;
  std::optional<Clock::time_point> last_sent_;
  std::optional<ProgressLine> held_;
};

}  // namespace errand::cli
