#include "engine/broker.hpp"

#include <atomic>
#include <memory>

namespace errand {

void Broker::ack_all(std::vector<AckSpec> specs, Callback<std::vector<Status>> done) {
  if (specs.empty()) return done(std::vector<Status>{});
  struct Gather {
    std::vector<Status> outcomes;
    std::atomic<std::size_t> left;
    Callback<std::vector<Status>> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->outcomes.resize(specs.size());
  gather->left = specs.size();
  gather->done = std::move(done);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    ack(std::move(specs[i]), [gather, i](Result<JobState> r) {
      gather->outcomes[i] = r.status();
      // The last ack to answer sees every outcome written before its decrement.
      if (--gather->left == 0) gather->done(std::move(gather->outcomes));
    });
  }
}

}  // namespace errand
