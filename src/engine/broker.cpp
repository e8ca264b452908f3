#include "engine/broker.hpp"

#include <atomic>
#include <memory>
#include <unordered_map>

namespace errand {

namespace {

// The acks of one batch, sent in rounds: round k holds each job's (k+1)-th
// ack. Acks of different jobs go out together, so a store may write them in
// one transaction; a job acked again waits for its earlier ack, so the batch
// means what it would one ack at a time (the second ack of a job finds the
// lease the first one ended).
struct AckRounds : std::enable_shared_from_this<AckRounds> {
  Broker* broker = nullptr;
  std::vector<AckSpec> specs;
  std::vector<std::vector<std::size_t>> rounds;
  std::size_t round = 0;
  std::atomic<std::size_t> left = 0;
  std::vector<Status> outcomes;
  Callback<std::vector<Status>> done;

  void send_round() {
    const std::vector<std::size_t>& now = rounds[round];
    left = now.size();
    for (const std::size_t i : now) {
      broker->ack(std::move(specs[i]), [self = shared_from_this(), i](Result<JobState> r) {
        self->outcomes[i] = r.status();
        // The last ack of a round to answer sees every outcome written
        // before its decrement, and alone moves on.
        if (--self->left != 0) return;
        if (++self->round < self->rounds.size()) return self->send_round();
        self->done(std::move(self->outcomes));
      });
    }
  }
};

}  // namespace

void Broker::ack_all(std::vector<AckSpec> specs, Callback<std::vector<Status>> done) {
  if (specs.empty()) return done(std::vector<Status>{});
  auto batch = std::make_shared<AckRounds>();
  std::unordered_map<JobId, std::size_t, JobIdHash> acks_of;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const std::size_t round = acks_of[specs[i].id]++;
    if (round == batch->rounds.size()) batch->rounds.emplace_back();
    batch->rounds[round].push_back(i);
  }
  batch->broker = this;
  batch->specs = std::move(specs);
  batch->outcomes.resize(batch->specs.size());
  batch->done = std::move(done);
  batch->send_round();
}

}  // namespace errand
