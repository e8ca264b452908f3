// How the embedded store encodes its records as RocksDB values. Versioned:
// every value starts with its format version; docs/storage-format.md says
// how to change it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/job.hpp"
#include "store/embedded/job_index.hpp"

namespace errand::embedded {

inline constexpr int kRecordFormatVersion = 1;

std::string encode_job(const JobRecord& rec);
std::optional<JobRecord> decode_job(std::string_view value);

std::string encode_queue(const QueueState& q);
// Fills the persisted fields of `q` (paused, max_queued, totals).
bool decode_queue(std::string_view value, QueueState& q);

// Timeline keys: the 16 id bytes then the big-endian sequence number, so a
// job's events are contiguous and ordered.
std::string timeline_key(const JobId& id, std::uint32_t seq);
std::uint32_t timeline_key_seq(std::string_view key);

}  // namespace errand::embedded
