#include "cli/table.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdio>

#include "cli/json_text.hpp"

namespace errand::cli {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxErrorCell = 60;

// Characters, for alignment: UTF-8 continuation bytes do not count.
std::size_t display_width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string one_line(const std::string& s) {
  std::string out = valid_utf8(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  return out;
}

std::string shorten(const std::string& s, std::size_t max_chars) {
  if (display_width(s) <= max_chars) return s;
  std::size_t chars = 0;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && ++chars == max_chars) break;
  }
  return s.substr(0, i) + "\xE2\x80\xA6";  // an ellipsis takes the last place
}

const json::value* member(const json::value* v, std::string_view name) {
  if (v == nullptr || !v->is_object()) return nullptr;
  const json::value* m = v->as_object().if_contains(json::string_view(name.data(), name.size()));
  return m != nullptr && !m->is_null() ? m : nullptr;
}

std::string string_or(const json::value* v, std::string fallback) {
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : fallback;
}

json::value parse_or_null(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value() : v;
}

std::string percent_cell(const json::value* progress) {
  const json::value* p = member(progress, "percent");
  if (p == nullptr || !p->is_number()) return "-";
  return std::to_string(static_cast<long long>(p->to_number<double>())) + "%";
}

}  // namespace

std::string format_table(const std::vector<Column>& columns,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size() + 1);
  std::vector<std::string> titles;
  for (const auto& c : columns) titles.push_back(c.title);
  cells.push_back(std::move(titles));
  for (const auto& row : rows) {
    std::vector<std::string> line(columns.size());
    for (std::size_t i = 0; i < columns.size() && i < row.size(); ++i) line[i] = one_line(row[i]);
    cells.push_back(std::move(line));
  }
  std::vector<std::size_t> widths(columns.size(), 0);
  for (const auto& line : cells) {
    for (std::size_t i = 0; i < line.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(line[i]));
    }
  }
  std::string out;
  for (const auto& line : cells) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const std::string pad(widths[i] - display_width(line[i]), ' ');
      if (i > 0) text += "  ";
      text += columns[i].align == Align::kRight ? pad + line[i] : line[i] + pad;
    }
    text.erase(text.find_last_not_of(' ') + 1);
    out += text;
    out += '\n';
  }
  return out;
}

std::string jobs_table(const std::vector<Job>& jobs) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(jobs.size());
  for (const auto& job : jobs) {
    const json::value doc = parse_or_null(job.json);
    const json::value* error = member(&doc, "error");
    std::string error_cell = error != nullptr ? string_or(member(error, "message"), "-") : "-";
    rows.push_back({job.id, job.queue, job.state,
                    std::to_string(job.attempt) + "/" + std::to_string(job.max_attempts),
                    percent_cell(member(&doc, "progress")),
                    string_or(member(&doc, "created_at"), "-"),
                    shorten(one_line(error_cell), kMaxErrorCell)});
  }
  return format_table({{"ID"},
                       {"QUEUE"},
                       {"STATE"},
                       {"ATTEMPT", Align::kRight},
                       {"PROGRESS", Align::kRight},
                       {"CREATED"},
                       {"ERROR"}},
                      rows);
}

std::string queues_table(const std::vector<Queue>& queues) {
  struct StateColumn {
    const char* state;
    const char* title;
  };
  static constexpr StateColumn kStates[] = {{"scheduled", "SCHEDULED"}, {"queued", "QUEUED"},
                                            {"running", "RUNNING"},     {"succeeded", "SUCCEEDED"},
                                            {"failed", "FAILED"},       {"cancelled", "CANCELLED"},
                                            {"expired", "EXPIRED"}};
  std::vector<Column> columns = {{"NAME"}, {"PAUSED"}};
  for (const auto& c : kStates) columns.push_back({c.title, Align::kRight});
  columns.push_back({"OLDEST", Align::kRight});

  std::vector<std::vector<std::string>> rows;
  for (const auto& q : queues) {
    std::vector<std::string> row = {q.name, q.paused ? "yes" : "no"};
    for (const auto& c : kStates) {
      const auto it = q.counts.find(c.state);
      row.push_back(std::to_string(it == q.counts.end() ? 0 : it->second));
    }
    const auto queued = q.counts.find("queued");
    const bool any_queued = queued != q.counts.end() && queued->second > 0;
    row.push_back(any_queued ? format_age(q.oldest_queued_ms) : "-");
    rows.push_back(std::move(row));
  }
  return format_table(columns, rows);
}

std::string format_age(std::int64_t ms) {
  if (ms < 0) ms = 0;
  char buf[32];
  const std::int64_t s = ms / 1000;
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  } else if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

}  // namespace errand::cli
