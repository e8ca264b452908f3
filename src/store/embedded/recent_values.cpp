#include "store/embedded/recent_values.hpp"

namespace errand::embedded {
namespace {

// What an entry costs beyond its key and value: map and list nodes.
constexpr std::size_t kEntryOverhead = 96;

}  // namespace

std::string RecentValues::key_of(int family, std::string_view key) {
  std::string k;
  k.reserve(key.size() + 1);
  k.push_back(static_cast<char>(family));
  k.append(key);
  return k;
}

void RecentValues::put(int family, std::string_view key, std::string_view value) {
  const std::size_t cost = key.size() + 1 + value.size() + kEntryOverhead;
  std::lock_guard lock(mutex_);
  std::string k = key_of(family, key);
  if (auto it = entries_.find(k); it != entries_.end()) drop(it);
  if (cost > max_bytes_) return;
  while (bytes_ + cost > max_bytes_) drop(entries_.find(order_.front()));
  order_.push_back(k);
  entries_.emplace(std::move(k), Entry{std::string(value), std::prev(order_.end())});
  bytes_ += cost;
}

void RecentValues::erase(int family, std::string_view key) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(key_of(family, key)); it != entries_.end()) drop(it);
}

std::optional<std::string> RecentValues::get(int family, std::string_view key) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(key_of(family, key));
  if (it == entries_.end()) return std::nullopt;
  return it->second.value;
}

void RecentValues::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
  order_.clear();
  bytes_ = 0;
}

std::size_t RecentValues::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

void RecentValues::drop(std::unordered_map<std::string, Entry>::iterator it) {
  bytes_ -= it->first.size() + it->second.value.size() + kEntryOverhead;
  order_.erase(it->second.age);
  entries_.erase(it);
}

}  // namespace errand::embedded
