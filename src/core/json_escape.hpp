// Writing JSON strings straight into an output buffer: the documents errand
// answers with are built by appending, without a DOM or temporaries.
#pragma once

#include <string>
#include <string_view>

namespace errand {

// Appends `s` as a JSON string, quotes included. Escapes what RFC 8259
// requires and nothing more (as Boost.JSON's serializer does): '"', '\\' and
// the control characters; other bytes, UTF-8 included, pass unchanged.
void append_json_string(std::string& out, std::string_view s);

}  // namespace errand
