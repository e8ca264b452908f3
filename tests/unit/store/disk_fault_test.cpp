// Disk faults (SPEC §2, §5 "a full disk answers writes with 507 (or 503),
// keeps serving reads and resumes writing on its own once space is free"):
// the real embedded store over a FaultyFileSystem that fails writes or
// fsyncs, of any file or of the write-ahead log only, with EIO or ENOSPC,
// while producers and workers keep going. For each kind, seeded rounds:
//   - the group commit that hit the fault fails, with every request in it
//     (nothing not durable is acknowledged: the ledger's check below);
//   - later writes answer kInsufficientStorage (ENOSPC: 507) or
//     kUnavailable (EIO: 503) at once; reads (get, list, queue stats) work;
//     healthy() (/readyz) is false;
//   - while the fault lasts, the store's attempts to write again fail;
//   - once the fault is cleared the store writes again by itself, healthy;
//   - the live store, then the store reopened, hold every acknowledged
//     operation and nothing else, not even what a failed request tried;
//   - the failure and the recovery are logged once each.
// Rounds per kind: ERRAND_DISK_FAULT_ROUNDS (default 8; 3 under ASan or TSan).
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "ack_ledger.hpp"
#include "broker_conformance.hpp"
#include "fault_test_support.hpp"
#include "faulty_file_system.hpp"
#include "store/embedded/embedded_broker.hpp"

namespace errand::testing {
namespace {

using conformance::await_result;
using Fault = FaultyFileSystem::Fault;

struct FaultKind {
  std::string name;
  Fault fault;
  Code answer;  // what writes get while it lasts
};

void PrintTo(const FaultKind& kind, std::ostream* os) { *os << kind.name; }

FaultKind kind(std::string name, FaultyFileSystem::Error error, FaultyFileSystem::Op op,
               FaultyFileSystem::Files files) {
  Fault f;
  f.error = error;
  f.op = op;
  f.files = files;
  return {
      std::move(name), f,
      error == FaultyFileSystem::Error::kNoSpace ? Code::kInsufficientStorage : Code::kUnavailable};
}

using E = FaultyFileSystem::Error;
using O = FaultyFileSystem::Op;
using F = FaultyFileSystem::Files;

const std::vector<std::string> kQueues = {"disk-a", "disk-b"};

struct RoundCounts {
  std::uint64_t checked = 0;
  std::uint64_t refused = 0;  // writes answered with the fault's error while it lasted
  std::uint64_t reads = 0;    // reads that worked while it lasted
  std::uint64_t faults_hit = 0;
  std::uint64_t retries = 0;  // failed attempts to write again
  std::uint64_t reopens = 0;  // ...of them, after reopening the store (the log still failed)
};

class DiskFaultTest : public ::testing::TestWithParam<FaultKind> {
 protected:
  embedded::EmbeddedOptions options(std::shared_ptr<rocksdb::FileSystem> fs) const {
    return store_options(dir_, std::move(fs), /*retry_ms=*/20);
  }

  RoundCounts round(std::uint64_t seed);

  ScratchDir dir_;
};

RoundCounts DiskFaultTest::round(std::uint64_t seed) {
  const FaultKind& k = GetParam();
  std::mt19937_64 rng(seed);
  CapturedLog log;
  RoundCounts counts;
  auto fs = std::make_shared<FaultyFileSystem>();
  auto broker = conformance::must(embedded::open_embedded_broker(options(fs)), "open");
  AckLedger ledger;
  Workload::Options wo;
  wo.seed = seed;
  wo.threads = 3;
  wo.ops_per_thread = 0;  // until stopped
  wo.queues = kQueues;
  Workload work(*broker, ledger, wo);

  const std::uint64_t before = 5 + rng() % 20;
  EXPECT_TRUE(eventually([&] { return work.answered() >= before; })) << "the workload is stuck";
  Fault fault = k.fault;
  fault.pass_first = rng() % 4;
  fs->inject(fault);
  EXPECT_TRUE(eventually([&] { return !broker->healthy(); }))
      << "the store stayed healthy under " << k.name;

  // While the fault lasts: writes get its answer at once, reads work.
  for (int i = 0; i < 3; ++i) {
    auto refused = await_result<std::vector<SubmitOutcome>>([&](auto done) {
      std::vector<SubmitSpec> one;
      one.push_back(conformance::job(kQueues[0], R"({"while":"broken"})"));
      broker->submit(std::move(one), std::move(done));
    });
    ledger.submit_tried(R"({"while":"broken"})");
    EXPECT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().code(), k.answer) << conformance::describe(refused.status());
    counts.refused += !refused.is_ok() && refused.status().code() == k.answer;
  }
  if (const auto id = ledger.an_acknowledged_job()) {
    auto got = await_result<JobView>([&](auto done) { broker->get(*id, std::move(done)); });
    EXPECT_TRUE(got.is_ok()) << conformance::describe(got.status());
    counts.reads += got.is_ok();
  }
  auto listed =
      await_result<JobPage>([&](auto done) { broker->list(ListSpec{}, std::move(done)); });
  EXPECT_TRUE(listed.is_ok()) << conformance::describe(listed.status());
  auto stats =
      await_result<std::vector<QueueStats>>([&](auto done) { broker->queues(std::move(done)); });
  EXPECT_TRUE(stats.is_ok()) << conformance::describe(stats.status());
  counts.reads += listed.is_ok() + stats.is_ok();
  // Let the store try to write again, and fail, a few times.
  EXPECT_TRUE(eventually([&] { return fs->faults_hit() >= 3; }))
      << "the store does not try again while the disk fails";
  EXPECT_FALSE(broker->healthy());

  // The disk works again: so does the store, by itself.
  fs->clear();
  EXPECT_TRUE(eventually([&] { return broker->healthy(); }))
      << "the store did not recover from " << k.name;
  const std::uint64_t after = work.answered() + 10;
  EXPECT_TRUE(eventually([&] { return work.answered() >= after; }));
  work.stop();
  work.join();
  counts.faults_hit = fs->faults_hit();
  EXPECT_GT(counts.faults_hit, 0u);
  const std::string payload = R"({"after":"recovery"})";
  ledger.submit_tried(payload);
  auto accepted = await_result<std::vector<SubmitOutcome>>([&](auto done) {
    std::vector<SubmitSpec> one;
    one.push_back(conformance::job(kQueues[0], payload));
    broker->submit(std::move(one), std::move(done));
  });
  EXPECT_TRUE(accepted.is_ok()) << conformance::describe(accepted.status());
  if (accepted) ledger.submit_acked(accepted->front().job.record.id, payload);

  const auto report = [&](const AckLedger::Report& r, std::string_view where) {
    EXPECT_EQ(r.lost, 0u) << where;
    EXPECT_EQ(r.unexplained, 0u) << where;
    EXPECT_EQ(r.indeterminate, 0u) << where << ": a failed request changed the store";
    for (const auto& p : r.problems) ADD_FAILURE() << where << ": " << p;
  };
  const auto live = ledger.check(*broker, kQueues, /*lease_all=*/false);
  report(live, "after recovering");
  broker.reset();
  auto reopened = conformance::must(embedded::open_embedded_broker(options(nullptr)), "open again");
  const auto restarted = ledger.check(*reopened, kQueues, /*lease_all=*/true);
  report(restarted, "after a restart");
  counts.checked = restarted.checked;

  counts.retries = log.count("debug", "the store still cannot write");
  counts.reopens = log.count("debug", "the write-ahead log still fails");
  EXPECT_EQ(log.count("error", "the store cannot write"), 1);
  EXPECT_EQ(log.count("info", "the store writes again"), 1);
  return counts;
}

TEST_P(DiskFaultTest, WritesFailCleanlyReadsGoOnAndWritingResumesByItself) {
  const std::uint64_t rounds = runs_from_env("ERRAND_DISK_FAULT_ROUNDS", 8, 3);
  RoundCounts total;
  std::uint64_t done = 0;
  for (std::uint64_t seed = 1; seed <= rounds && !HasFailure(); ++seed, ++done) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    // Each round on a fresh store; the scratch directory is reused.
    std::filesystem::remove_all(dir_.path());
    std::filesystem::create_directories(dir_.path());
    const RoundCounts c = round(seed);
    total.checked += c.checked;
    total.refused += c.refused;
    total.reads += c.reads;
    total.faults_hit += c.faults_hit;
    total.retries += c.retries;
    total.reopens += c.reopens;
  }
  std::printf(
      "disk fault %s: %llu rounds; faults hit %llu; failed attempts to write again %llu (after "
      "reopening the store %llu); writes refused with %s while it lasted %llu; reads served "
      "meanwhile %llu; acknowledged operations checked after a restart %llu\n",
      GetParam().name.c_str(), static_cast<unsigned long long>(done),
      static_cast<unsigned long long>(total.faults_hit),
      static_cast<unsigned long long>(total.retries),
      static_cast<unsigned long long>(total.reopens),
      GetParam().answer == Code::kInsufficientStorage ? "insufficient_storage (507)"
                                                      : "unavailable (503)",
      static_cast<unsigned long long>(total.refused), static_cast<unsigned long long>(total.reads),
      static_cast<unsigned long long>(total.checked));
}

INSTANTIATE_TEST_SUITE_P(
    Faults, DiskFaultTest,
    ::testing::Values(kind("EioOnWrite", E::kIo, O::kWrite, F::kAll),
                      kind("EioOnSync", E::kIo, O::kSync, F::kAll),
                      kind("EioOnWalWrite", E::kIo, O::kWrite, F::kWal),
                      kind("EioOnWalSync", E::kIo, O::kSync, F::kWal),
                      kind("NoSpaceOnWrite", E::kNoSpace, O::kWrite, F::kAll),
                      kind("NoSpaceOnSync", E::kNoSpace, O::kSync, F::kAll),
                      kind("NoSpaceOnWalWrite", E::kNoSpace, O::kWrite, F::kWal),
                      kind("NoSpaceOnWalSync", E::kNoSpace, O::kSync, F::kWal)),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace errand::testing
