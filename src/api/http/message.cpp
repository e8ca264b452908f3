#include "api/http/message.hpp"

#include <algorithm>

namespace errand::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  // ASCII only: header names are tokens, and std::tolower would consult the locale.
  const auto lower = [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  };
  return std::ranges::equal(a, b, [&](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

std::string_view Request::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view Request::query() const {
  std::string_view t = target;
  const auto q = t.find('?');
  // substr(size) rather than a default view: callers (Boost.URL) read a null
  // data pointer as a C string.
  return q == std::string_view::npos ? t.substr(t.size()) : t.substr(q + 1);
}

}  // namespace errand::http
