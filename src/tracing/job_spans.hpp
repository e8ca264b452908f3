// A job's timeline as OpenTelemetry spans (docs/tracing.md), made from the
// broker's state changes one at a time: each change yields the spans that
// end with it. Span ids are computed from the job (id, kind of span, attempt,
// start), so nothing is remembered between changes and a restart needs no
// state.
//
//   job <queue>   PRODUCER  created_at -> terminal state; child of the submitter's span
//   |- queue wait INTERNAL  ready (run_at) -> leased, or cancelled/expired while queued
//   |- attempt 1  CONSUMER  leased -> acked, failed, lease expired (or cancelled)
//   |- queue wait
//   `- attempt 2
//
// The trace is the one of the job's traceparent when it has a valid one, and
// nothing is exported for a job whose traceparent says "not sampled". A job
// without a (valid) traceparent gets a trace of its own: its trace id is the
// job id's 16 bytes, so anyone holding the id can find it.
//
// Pure: no I/O, no clock, no state.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/change_feed.hpp"
#include "tracing/span.hpp"

namespace errand::tracing {

// The spans that end with `c`, children before their parent: a queue wait, an
// attempt, the job span. Empty for most changes (creation, scheduled ->
// queued, removal) and for a job that is not sampled.
std::vector<Span> job_spans(const StateChange& c);

// job_spans(c).size(), without making them: cheap enough for the commit
// thread.
std::size_t span_count(const StateChange& c);

// The span id of the job span of `id`, parent of its waits and attempts.
std::string job_span_id(const JobId& id);

}  // namespace errand::tracing
