#include "core/queue_name.hpp"

namespace errand {
namespace {
bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
}  // namespace

bool is_valid_queue_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxQueueNameLength || !is_alnum(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!is_queue_name_char(c)) return false;
  }
  return true;
}

}  // namespace errand
