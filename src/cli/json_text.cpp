#include "cli/json_text.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace errand::cli {
namespace {

namespace json = boost::json;

std::optional<json::value> parse(std::string_view text, std::string* why = nullptr) {
  json::parse_options options;
  // Boost counts only the containers around a value; the server counts the
  // outermost value as depth 1, which is the same bound.
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec, {}, options);
  if (ec) {
    if (why != nullptr) *why = ec.message();
    return std::nullopt;
  }
  return v;
}

// Length of the valid UTF-8 sequence starting at `s[i]`, or 0 when invalid
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

std::optional<std::string> json_error(std::string_view text) {
  std::string why;
  if (parse(text, &why)) return std::nullopt;
  return why;
}

std::string_view trim_json_whitespace(std::string_view text) {
  constexpr std::string_view kWhitespace = " \t\r\n";
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Step back over continuation bytes to the start of the cut sequence.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

std::string quote_json(std::string_view text) {
  const std::string clean = valid_utf8(text);
  return json::serialize(json::string_view(clean.data(), clean.size()));
}

std::optional<std::string> problem_detail(std::string_view body) {
  auto v = parse(body);
  if (!v || !v->is_object()) return std::nullopt;
  for (const char* member : {"detail", "title"}) {
    if (const auto* s = v->as_object().if_contains(member); s != nullptr && s->is_string()) {
      if (!s->as_string().empty()) return std::string(s->as_string());
    }
  }
  return std::nullopt;
}

}  // namespace errand::cli
