// The memory guard's rules (docs/reliability.md "Admission control"): when the
// process's resident memory passes its limit, new work (submits, flows) is
// refused with 503 until memory is back under 90% of the limit, so the
// server answers "later" instead of being killed by the OOM killer with
// every open request.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

namespace errand {

// Hysteresis: refusing starts above `limit` and stops below 90% of it, so a
// process hovering at the limit does not flip on every sample.
inline bool memory_pressure(bool was_under_pressure, std::uint64_t resident, std::uint64_t limit) {
  if (limit == 0) return false;  // no guard
  if (resident > limit) return true;
  return was_under_pressure && resident >= limit / 10 * 9;
}

// The default limit: 80% of what the process may use, the cgroup's
// memory.max when there is one, else the machine's memory. The rest is
// headroom for what is already in flight when refusing starts.
inline std::uint64_t default_memory_limit(std::optional<std::uint64_t> cgroup_max,
                                          std::uint64_t machine_total) {
  const std::uint64_t usable = cgroup_max ? std::min(*cgroup_max, machine_total) : machine_total;
  return usable / 5 * 4;
}

}  // namespace errand
