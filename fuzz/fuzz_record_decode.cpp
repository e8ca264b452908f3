// The stores' decoders (store/embedded/record_codec.hpp and
// engine/flow_record.hpp) on arbitrary bytes, as a damaged or foreign value would
// reach them at start-up: they must refuse what they cannot read, never
// crash. A value that decodes re-encodes to bytes that decode to the same
// record: the job and flow encoders write every stored field, so equal
// encodings mean equal records. Timeline keys: the sequence number read back
// from a key makes the same key again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.hpp"
#include "engine/flow_record.hpp"
#include "store/embedded/record_codec.hpp"

namespace errand::fuzz {
namespace {

using namespace errand::embedded;

template <typename Encode, typename Decode>
void check_round_trip(std::string_view input, Encode encode, Decode decode, const char* what) {
  const auto first = decode(input);
  if (!first) return;
  const std::string encoded = encode(*first);
  const auto second = decode(encoded);
  check(second.has_value(), what, encoded);
  check(encode(*second) == encoded, what, encoded);
}

// A limit of 0 or less is no limit (the broker reads it so), and the encoder
// writes none then.
std::int64_t effective_limit(const QueueState& q) { return q.max_queued > 0 ? q.max_queued : 0; }

// Queue records leave out max_queued when there is no limit, so equal
// encodings do not prove equal records: compare the fields.
void check_queue(std::string_view input) {
  QueueState first;
  if (!decode_queue(input, first)) return;
  const std::string encoded = encode_queue(first);
  QueueState second;
  check(decode_queue(encoded, second), "a decoded queue record re-encodes to one that decodes",
        encoded);
  check(first.paused == second.paused && effective_limit(first) == effective_limit(second) &&
            first.enqueued_total == second.enqueued_total &&
            first.succeeded_total == second.succeeded_total &&
            first.failed_total == second.failed_total,
        "a decoded queue record re-encodes to one that decodes the same", encoded);
}

void check_timeline_key(std::string_view input) {
  const std::uint32_t seq = timeline_key_seq(input);  // any length: no crash
  if (input.size() < 20) return;
  const std::string_view key = input.substr(0, 20);
  check(timeline_key(JobId::from_raw(key.substr(0, 16)), seq) == key,
        "a timeline key rebuilt from its job id and seq is the same key");
}

}  // namespace
}  // namespace errand::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace errand::fuzz;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_round_trip(input, errand::embedded::encode_job, errand::embedded::decode_job,
                   "a decoded job record re-encodes to one that decodes the same");
  check_round_trip(input, errand::encode_flow, errand::decode_flow,
                   "a decoded flow record re-encodes to one that decodes the same");
  check_queue(input);
  check_timeline_key(input);
  return 0;
}
