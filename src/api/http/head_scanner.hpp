// Finds where a request's head (request line and header fields) ends in the
// bytes received so far, and refuses two framings that Beast would accept but
// that proxies may read differently (request smuggling): a bare LF as a line
// end, and obs-fold (a field continued on a line starting with SP or HTAB).
// RFC 9112 sections 2.2 and 5.2 let a server reject both with 400.
//
// Not thread-safe; one per connection, reset() for each request.
#pragma once

#include <cstddef>
#include <string_view>

namespace errand::http {

class HeadScanner {
 public:
  enum class State { kNeedMore, kComplete, kBareLf, kObsFold };

  struct Result {
    State state;
    std::size_t head_size;  // with kComplete: bytes up to and including the empty line
  };

  // REQUIRES: `received` starts with what the previous calls since reset()
  // saw. Looks only at the bytes not yet looked at, so a head arriving one
  // byte at a time costs linear time.
  Result scan(std::string_view received);

  void reset() { scanned_ = 0; }

 private:
  std::size_t scanned_ = 0;
};

}  // namespace errand::http
