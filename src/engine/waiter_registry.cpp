#include "engine/waiter_registry.hpp"

#include <algorithm>

namespace errand {

std::string job_topic(const JobId& id) { return "j" + std::string(id.raw()); }
std::string flow_topic(const JobId& id) { return "f" + std::string(id.raw()); }
std::string queue_topic(std::string_view queue) { return "q" + std::string(queue); }

WaiterRegistry::Id WaiterRegistry::subscribe(std::span<const std::string> topics, Wake wake) {
  std::lock_guard lock(mutex_);
  const Id id = next_id_++;
  Waiter& w = waiters_[id];
  w.wake = std::move(wake);
  w.topics.assign(topics.begin(), topics.end());
  for (const auto& t : w.topics) topics_[t].push_back(id);
  return id;
}

void WaiterRegistry::unsubscribe(Id id) {
  std::lock_guard lock(mutex_);
  take_locked(id);
}

WaiterRegistry::Wake WaiterRegistry::take_locked(Id id) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return {};
  Wake wake = std::move(it->second.wake);
  for (const auto& t : it->second.topics) {
    auto list = topics_.find(t);
    if (list == topics_.end()) continue;
    list->second.remove(id);
    if (list->second.empty()) topics_.erase(list);
  }
  waiters_.erase(it);
  return wake;
}

bool WaiterRegistry::has_waiters(std::string_view topic) const {
  std::lock_guard lock(mutex_);
  const auto list = topics_.find(std::string(topic));
  return list != topics_.end() && !list->second.empty();
}

void WaiterRegistry::notify_all(std::string_view topic) {
  notify_some(topic, static_cast<std::size_t>(-1));
}

void WaiterRegistry::notify_some(std::string_view topic, std::size_t n) {
  std::vector<Wake> woken;
  {
    std::lock_guard lock(mutex_);
    auto list = topics_.find(std::string(topic));
    if (list == topics_.end()) return;
    std::vector<Id> ids;
    for (Id id : list->second) {
      if (ids.size() == n) break;
      ids.push_back(id);
    }
    for (Id id : ids) woken.push_back(take_locked(id));  // may erase `list`
  }
  for (auto& w : woken) {
    if (w) w();
  }
}

void WaiterRegistry::notify_everyone() {
  std::vector<Wake> woken;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, w] : waiters_) woken.push_back(std::move(w.wake));
    waiters_.clear();
    topics_.clear();
  }
  for (auto& w : woken) {
    if (w) w();
  }
}

std::size_t WaiterRegistry::size() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

}  // namespace errand
