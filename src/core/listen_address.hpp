// Which listen addresses (`--listen HOST:PORT`) stay on this machine: the
// server refuses any other when no token is configured (SPEC §5).
//
// Thread-safe: pure functions.
#pragma once

#include <string_view>

namespace errand {

// Whether HOST of "HOST:PORT" or "[HOST]:PORT" is a loopback address:
// 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) or "localhost". An empty HOST
// (":7400") means every interface, and any other name may resolve anywhere:
// neither is loopback.
bool is_loopback_listen_address(std::string_view address);

}  // namespace errand
