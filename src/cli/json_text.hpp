// JSON text as the CLI handles it: checking that a payload or a command's
// output is JSON, quoting text as a JSON string, and reading the few members
// the CLI prints from documents the server sent. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace errand::cli {

// The server's limit (SPEC §5): the outermost value is depth 1.
inline constexpr int kMaxJsonDepth = 64;

// Why `text` is not one JSON value (e.g. "syntax error at offset 3"), or
// nullopt when it is. Surrounding whitespace is allowed.
std::optional<std::string> json_error(std::string_view text);

// `text` without leading and trailing JSON whitespace.
std::string_view trim_json_whitespace(std::string_view text);

// `text` as a JSON string literal (quotes and escapes added). Invalid UTF-8
// is replaced with U+FFFD first: the server accepts only UTF-8.
std::string quote_json(std::string_view text);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` that does not end inside
// a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

// The "detail" (else "title") of an RFC 9457 problem document; nullopt when
// `body` is not one.
std::optional<std::string> problem_detail(std::string_view body);

}  // namespace errand::cli
