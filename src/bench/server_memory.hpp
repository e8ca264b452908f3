// Reading the server's resident memory and open waits for W4: from
// /proc/PID/status when bench knows the server's pid (--server-pid), or from
// its Prometheus text (GET /metrics).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace errand::bench {

// VmRSS of a /proc/PID/status text, in bytes.
std::optional<std::uint64_t> parse_vm_rss(std::string_view proc_status);

// The sum of the samples of metric `name` (any labels) in a Prometheus text
// exposition, or nullopt when it has none.
std::optional<double> metric_value(std::string_view text, std::string_view name);

// VmRSS of process `pid`, or nullopt when it cannot be read.
std::optional<std::uint64_t> read_process_rss(int pid);

}  // namespace errand::bench
