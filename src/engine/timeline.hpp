// Builds timeline events (SPEC §1 "Timeline") as the JSON objects clients see.
// Shared by every store so that both write the same event shapes.
#pragma once

#include <string>
#include <string_view>

#include "core/job.hpp"

namespace errand {

// Appends the next event of `type` to `rec` (bumps rec.timeline_seq) and
// returns it. `fields_json` holds extra members without braces, e.g.
// R"("worker":"w1","attempt":1)", or is empty.
TimelineEvent next_event(JobRecord& rec, Millis at, std::string_view type,
                         std::string_view fields_json = {});
// The same for a timeline whose last seq is `seq` (a flow's).
TimelineEvent next_event(std::uint32_t& seq, Millis at, std::string_view type,
                         std::string_view fields_json = {});

// A new job's first event, "enqueued" (seq 1, at its creation), follows
// from the record: a store may derive it when read instead of writing it
// (the embedded store does). Its fields, and the whole event.
std::string enqueued_fields(const JobRecord& rec);
TimelineEvent enqueued_event(const JobRecord& rec);
// A leased job's event, "leased" (at started_at, with the expiry the lease
// was granted), follows from the record until the job's next event other
// than "succeeded": a store may write it only then. Its seq is
// rec.timeline_seq, or the one before once the job succeeded (its
// "succeeded" event came next).
std::string leased_fields(const JobRecord& rec);
TimelineEvent leased_event(const JobRecord& rec);
// An acked job's last event, "succeeded" (seq rec.timeline_seq, at its end),
// follows from the record too: a succeeded job changes no more.
std::string succeeded_fields(const JobRecord& rec);
TimelineEvent succeeded_event(const JobRecord& rec);

// An event as a store keeps it (its seq and JSON), with its type read back.
TimelineEvent stored_event(std::uint32_t seq, std::string json);

// `"name":<json string>` for building fields_json.
std::string json_member(std::string_view name, std::string_view value);
// `"error":{"message","type","detail","attempt"}`
std::string error_member(const JobError& e);
// `error` as a JSON object.
std::string error_json(const JobError& e);

}  // namespace errand
