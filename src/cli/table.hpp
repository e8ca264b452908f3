// `--format table`: aligned, human-readable columns for `errand jobs` and
// `errand queues`. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "errand/types.hpp"

namespace errand::cli {

enum class Align { kLeft, kRight };

struct Column {
  std::string title;
  Align align = Align::kLeft;
};

// One line per row under a line of titles, columns two spaces apart and as
// wide as their widest cell (counted in characters, not bytes), no trailing
// blanks. Control characters in cells become spaces so a row stays one line.
// A row with fewer cells than columns is padded with empty ones.
std::string format_table(const std::vector<Column>& columns,
                         const std::vector<std::vector<std::string>>& rows);

// ID, QUEUE, STATE, ATTEMPT, PROGRESS, CREATED, ERROR (the message, shortened).
std::string jobs_table(const std::vector<Job>& jobs);

// NAME, PAUSED, the counts by state, OLDEST (age of the oldest queued job).
std::string queues_table(const std::vector<Queue>& queues);

// A short age: "850ms", "12s", "4m05s", "3h20m", "2d04h".
std::string format_age(std::int64_t ms);

}  // namespace errand::cli
