#include <cmath>
#include <cstdio>

#include "logging/log.hpp"

namespace errand::log {
namespace {

// JSON string escaping (RFC 8259): quotes, backslash and control characters.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// logfmt: bare when the value has no space, quote, '=' or control
// character; else quoted with the JSON escapes, so a line stays one line.
void append_text_value(std::string& out, std::string_view s) {
  bool bare = !s.empty();
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) bare = false;
  }
  if (bare) {
    out += s;
  } else {
    append_json_string(out, s);
  }
}

std::string number_text(double d) {
  if (!std::isfinite(d)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", d);
  return buf;
}

}  // namespace

std::string render(Format format, std::string_view message, std::span<const Field> fields) {
  std::string out;
  out.reserve(64 + 32 * fields.size());
  if (format == Format::kJson) {
    out += "\"msg\":";
    append_json_string(out, message);
  } else {
    // The message may be anything; keep the line one line.
    for (char c : message) out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  for (const Field& f : fields) {
    if (format == Format::kJson) {
      out += ',';
      append_json_string(out, f.key);
      out += ':';
    } else {
      out += ' ';
      out += f.key;
      out += '=';
    }
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            if (format == Format::kJson) {
              append_json_string(out, v);
            } else {
              append_text_value(out, v);
            }
          } else if constexpr (std::is_same_v<T, bool>) {
            out += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, double>) {
            out += number_text(v);
          } else {
            out += std::to_string(v);
          }
        },
        f.value);
  }
  return out;
}

bool parse_format(std::string_view text, Format& out) {
  if (text == "text") {
    out = Format::kText;
  } else if (text == "json") {
    out = Format::kJson;
  } else {
    return false;
  }
  return true;
}

bool parse_level(std::string_view text, Level& out) {
  if (text == "debug") {
    out = Level::kDebug;
  } else if (text == "info") {
    out = Level::kInfo;
  } else if (text == "warn") {
    out = Level::kWarn;
  } else if (text == "error") {
    out = Level::kError;
  } else {
    return false;
  }
  return true;
}

}  // namespace errand::log
