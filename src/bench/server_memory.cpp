#include "bench/server_memory.hpp"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace errand::bench {
namespace {

// The lines of `text`, one at a time, to `f`.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    f(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

std::string_view skip_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

}  // namespace

std::optional<std::uint64_t> parse_vm_rss(std::string_view proc_status) {
  std::optional<std::uint64_t> bytes;
  for_each_line(proc_status, [&](std::string_view line) {
    constexpr std::string_view kField = "VmRSS:";
    if (!line.starts_with(kField)) return;
    line = skip_blanks(line.substr(kField.size()));
    std::uint64_t kib = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), kib);
    // The kernel writes "VmRSS:   12345 kB".
    if (ec == std::errc() &&
        skip_blanks({ptr, static_cast<std::size_t>(line.data() + line.size() - ptr)}) == "kB") {
      bytes = kib * 1024;
    }
  });
  return bytes;
}

std::optional<double> metric_value(std::string_view text, std::string_view name) {
  std::optional<double> sum;
  for_each_line(text, [&](std::string_view line) {
    if (!line.starts_with(name) || line.size() == name.size()) return;
    std::string_view rest = line.substr(name.size());
    if (rest.front() == '{') {
      const std::size_t close = rest.find('}');
      if (close == std::string_view::npos) return;
      rest.remove_prefix(close + 1);
    } else if (rest.front() != ' ') {
      return;  // another metric whose name starts with `name`
    }
    rest = skip_blanks(rest);
    double value = 0;
    const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    (void)ptr;
    if (ec == std::errc()) sum = sum.value_or(0) + value;
  });
  return sum;
}

std::optional<std::uint64_t> read_process_rss(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return parse_vm_rss(text.str());
}

}  // namespace errand::bench
