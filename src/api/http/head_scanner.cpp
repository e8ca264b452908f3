#include "api/http/head_scanner.hpp"

namespace errand::http {

HeadScanner::Result HeadScanner::scan(std::string_view received) {
  for (std::size_t i = scanned_; i < received.size(); ++i) {
    if (received[i] != '\n') continue;
    if (i == 0 || received[i - 1] != '\r') return {State::kBareLf, 0};
    if (i >= 3 && received[i - 2] == '\n' && received[i - 3] == '\r') {
      return {State::kComplete, i + 1};
    }
    if (i + 1 == received.size()) {
      // Whether this line is folded depends on the next byte: look again.
      scanned_ = i;
      return {State::kNeedMore, 0};
    }
    if (received[i + 1] == ' ' || received[i + 1] == '\t') return {State::kObsFold, 0};
  }
  scanned_ = received.size();
  return {State::kNeedMore, 0};
}

}  // namespace errand::http
