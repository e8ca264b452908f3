// The log lines of job state changes: failures and operator actions at info
// and above, the normal path (submitted, leased, succeeded) at debug. Each
// line names the job, its queue and the submitter's trace id; never the
// payload, result or error message (they may hold customer data).
#pragma once

#include <optional>
#include <string_view>

#include "engine/change_feed.hpp"
#include "logging/log.hpp"

namespace errand::log {

struct JobLine {
  Level level;
  std::string_view message;
};

// The line a change deserves (pure).
JobLine job_line(const StateChange& c);

// Writes a line per change of `feed`, from its listener. REQUIRES: `feed`
// outlives this.
class JobLog {
 public:
  explicit JobLog(ChangeFeed& feed);
  ~JobLog();
  JobLog(const JobLog&) = delete;
  JobLog& operator=(const JobLog&) = delete;

 private:
  ChangeFeed& feed_;
  ChangeFeed::Id subscription_;
};

// Writes the line of one change (exposed for tests).
void write_job_line(const StateChange& c);

}  // namespace errand::log
