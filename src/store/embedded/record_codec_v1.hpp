// The job and queue records of format version 1 (JSON), read but no longer
// written: record_codec.cpp falls back to these for a value that starts
// with '{'.
#pragma once

#include <optional>
#include <string_view>

#include "core/job.hpp"
#include "store/embedded/job_index.hpp"

namespace errand::embedded {

std::optional<JobRecord> decode_job_v1(std::string_view value);
bool decode_queue_v1(std::string_view value, QueueState& q);

}  // namespace errand::embedded
