#include "core/trace_context.hpp"

#include <cstdio>

namespace errand {
namespace {

bool lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

std::string TraceContext::to_traceparent() const {
  char flag_hex[3];
  std::snprintf(flag_hex, sizeof flag_hex, "%02x", flags);
  return "00-" + trace_id + "-" + parent_span_id + "-" + flag_hex;
}

std::optional<TraceContext> parse_traceparent(std::string_view text) {
  if (text.size() != 55 || text[2] != '-' || text[35] != '-' || text[52] != '-') return {};
  const auto version = text.substr(0, 2);
  const auto trace_id = text.substr(3, 32);
  const auto span_id = text.substr(36, 16);
  const auto flags = text.substr(53, 2);
  if (version != "00" || !lower_hex(trace_id) || !lower_hex(span_id) || !lower_hex(flags)) {
    return {};
  }
  if (all_zero(trace_id) || all_zero(span_id)) return {};
  TraceContext c{std::string(trace_id), std::string(span_id), 0};
  for (char f : flags)
    c.flags = static_cast<std::uint8_t>(c.flags * 16 + (f <= '9' ? f - '0' : f - 'a' + 10));
  return c;
}

}  // namespace errand
