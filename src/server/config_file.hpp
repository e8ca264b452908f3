// `errand serve --config FILE`: the TOML file's values fill the options that
// no flag or ERRAND_* variable gave (SPEC §5), and its [[queues]], [[alerts]]
// and [[tokens]] tables become ServeOptions. toml++ stays in config_file.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "server/serve.hpp"

namespace errand::server {

inline constexpr std::int64_t kMaxHttpTimeoutMs = 3'600'000;  // the HTTP deadlines' upper bound
// How long a SIGTERM waits for busy connections at most (--shutdown-timeout-ms).
inline constexpr std::int64_t kMaxShutdownTimeoutMs = 3'600'000;

// Whether the command line (or its environment variable) gave this flag.
using FlagGiven = std::function<bool(const char* flag)>;

// Options kept as text until all sources are read, then checked by main.
struct ConfigText {
  std::string& durability;
  std::string& log_format;
  std::string& log_level;
};

// False, after printing why to stderr, when the file cannot be read or holds
// a malformed value or table.
bool apply_config_file(const std::string& path, const FlagGiven& given, ServeOptions& o,
                       ConfigText text);

}  // namespace errand::server
