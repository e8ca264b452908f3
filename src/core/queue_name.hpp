// Queue names: [A-Za-z0-9][A-Za-z0-9._-]{0,127} (SPEC §1).
#pragma once

#include <string_view>

namespace errand {

inline constexpr std::size_t kMaxQueueNameLength = 128;

bool is_valid_queue_name(std::string_view name);

}  // namespace errand
