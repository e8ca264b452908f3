// RecentValues: the latest values of the job records, payloads and results
// written most recently, so that reading a job that just changed needs no
// RocksDB lookup. A memtable search costs more than the rest of answering:
// a caller woken when its job finished reads the record, the payload and the
// result, and a worker handed a job just submitted reads its payload.
//
// The commit writer fills it after each write, in write order, so it holds
// only what the store holds (never a value not yet durable); a reader that
// misses reads the store. Bounded by bytes: the entry written longest ago
// goes first.
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace errand::embedded {

class RecentValues {
 public:
  explicit RecentValues(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // `family` tells apart keys of different column families.
  void put(int family, std::string_view key, std::string_view value);
  void erase(int family, std::string_view key);
  std::optional<std::string> get(int family, std::string_view key) const;
  void clear();

  std::size_t bytes() const;

 private:
  struct Entry {
    std::string value;
    std::list<std::string>::iterator age;  // its place in `order_`
  };
  static std::string key_of(int family, std::string_view key);
  // REQUIRES: mutex_ held.
  void drop(std::unordered_map<std::string, Entry>::iterator it);

  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mutex_)
  std::list<std::string> order_;                    // GUARDED_BY(mutex_): oldest write first
  std::size_t bytes_ = 0;                           // GUARDED_BY(mutex_)
};

}  // namespace errand::embedded
