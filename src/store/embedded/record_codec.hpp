// How the embedded store encodes its records as RocksDB values. Versioned:
// every value starts with its format version; docs/storage-format.md says
// how to change it. Jobs and queues are binary (written for every submit,
// lease and ack, so they must be cheap); flows are JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/job.hpp"
#include "store/embedded/job_index.hpp"

namespace errand::embedded {

// The JSON records: flows, and the jobs and queues written before version 2.
inline constexpr int kRecordFormatVersion = 1;
// The binary job and queue records: their first byte.
// Jobs: version 3 adds a part bit to version 2, which is still read.
inline constexpr std::uint8_t kJobFormatVersion = 3;
inline constexpr std::uint8_t kQueueFormatVersion = 2;

std::string encode_job(const JobRecord& rec);
std::optional<JobRecord> decode_job(std::string_view value);

// A binary job record without its version byte and id: the form JobIndex
// keeps in memory, where the id is the key.
void append_job_fields(const JobRecord& rec, std::string& out);
std::optional<JobRecord> decode_job_fields(const JobId& id, std::string_view fields);
// The queue and state the fields start with, read without decoding the rest.
struct JobFieldsHead {
  std::string_view queue;
  JobState state = JobState::kQueued;
};
std::optional<JobFieldsHead> peek_job_fields(std::string_view fields);

std::string encode_queue(const QueueState& q);
// Fills the persisted fields of `q` (paused, max_queued, totals).
bool decode_queue(std::string_view value, QueueState& q);

// Timeline keys: the 16 id bytes then the big-endian sequence number, so a
// job's events are contiguous and ordered.
std::string timeline_key(const JobId& id, std::uint32_t seq);
std::uint32_t timeline_key_seq(std::string_view key);

}  // namespace errand::embedded
