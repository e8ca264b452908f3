#include "core/job_state.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

namespace errand {
namespace {

using S = JobState;
using T = Transition;

constexpr S kAllStates[] = {S::kScheduled, S::kQueued,    S::kRunning, S::kSucceeded,
                            S::kFailed,    S::kCancelled, S::kExpired};

// The complete legal move table of SPEC §1: every (state, transition) pair
// not listed here must be refused.
const std::map<T, std::map<S, S>>& legal_moves() {
  static const std::map<T, std::map<S, S>> kMoves = {
      {T::kBecomeReady, {{S::kScheduled, S::kQueued}}},
      {T::kLease, {{S::kQueued, S::kRunning}}},
      {T::kAck, {{S::kRunning, S::kSucceeded}}},
      {T::kFailRetry, {{S::kRunning, S::kScheduled}}},
      {T::kFailTerminal, {{S::kRunning, S::kFailed}}},
      {T::kCancel,
       {{S::kQueued, S::kCancelled}, {S::kScheduled, S::kCancelled}, {S::kRunning, S::kCancelled}}},
      {T::kExpire, {{S::kQueued, S::kExpired}, {S::kScheduled, S::kExpired}}},
      {T::kAdminRetry,
       {{S::kFailed, S::kQueued}, {S::kCancelled, S::kQueued}, {S::kExpired, S::kQueued}}},
  };
  return kMoves;
}

std::string name(T t) {
  switch (t) {
    case T::kBecomeReady:
      return "become_ready";
    case T::kLease:
      return "lease";
    case T::kAck:
      return "ack";
    case T::kFailRetry:
      return "fail_retry";
    case T::kFailTerminal:
      return "fail_terminal";
    case T::kCancel:
      return "cancel";
    case T::kExpire:
      return "expire";
    case T::kAdminRetry:
      return "admin_retry";
  }
  return "?";
}

class TransitionTest : public ::testing::TestWithParam<T> {};

TEST_P(TransitionTest, AllowsExactlyTheLegalMovesAndRefusesTheRest) {
  const T t = GetParam();
  const auto& legal = legal_moves().at(t);
  for (S from : kAllStates) {
    const std::optional<S> to = next_state(from, t);
    const auto it = legal.find(from);
    if (it == legal.end()) {
      EXPECT_FALSE(to.has_value()) << name(t) << " from " << to_string(from) << " must be illegal";
    } else {
      ASSERT_TRUE(to.has_value()) << name(t) << " from " << to_string(from) << " must be legal";
      EXPECT_EQ(*to, it->second) << name(t) << " from " << to_string(from);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryTransition, TransitionTest,
                         ::testing::Values(T::kBecomeReady, T::kLease, T::kAck, T::kFailRetry,
                                           T::kFailTerminal, T::kCancel, T::kExpire,
                                           T::kAdminRetry),
                         [](const auto& info) { return name(info.param); });

TEST(JobState, NoTransitionLeavesATerminalStateExceptAdminRetry) {
  for (S from : kAllStates) {
    if (!is_terminal(from)) continue;
    for (const auto& [t, moves] : legal_moves()) {
      if (t == T::kAdminRetry) continue;
      EXPECT_FALSE(next_state(from, t).has_value()) << name(t) << " from " << to_string(from);
    }
  }
}

TEST(JobState, NothingMovesARunningJobBackToQueued) {
  for (const auto& [t, moves] : legal_moves()) {
    EXPECT_NE(next_state(S::kRunning, t), std::optional<S>(S::kQueued)) << name(t);
  }
}

TEST(JobState, ExactlyTheLastFourStatesAreTerminal) {
  EXPECT_FALSE(is_terminal(S::kScheduled));
  EXPECT_FALSE(is_terminal(S::kQueued));
  EXPECT_FALSE(is_terminal(S::kRunning));
  EXPECT_TRUE(is_terminal(S::kSucceeded));
  EXPECT_TRUE(is_terminal(S::kFailed));
  EXPECT_TRUE(is_terminal(S::kCancelled));
  EXPECT_TRUE(is_terminal(S::kExpired));
}

TEST(JobState, NamesAreTheSpecNames) {
  EXPECT_EQ(to_string(S::kScheduled), "scheduled");
  EXPECT_EQ(to_string(S::kQueued), "queued");
  EXPECT_EQ(to_string(S::kRunning), "running");
  EXPECT_EQ(to_string(S::kSucceeded), "succeeded");
  EXPECT_EQ(to_string(S::kFailed), "failed");
  EXPECT_EQ(to_string(S::kCancelled), "cancelled");
  EXPECT_EQ(to_string(S::kExpired), "expired");
}

TEST(JobState, ParseAndToStringRoundTrip) {
  int count = 0;
  for (S s : kAllStates) {
    EXPECT_EQ(parse_job_state(to_string(s)), std::optional<S>(s));
    ++count;
  }
  EXPECT_EQ(count, kJobStateCount);
}

TEST(JobState, ParseRejectsUnknownNames) {
  for (const char* bad : {"", "QUEUED", "Queued", "queued ", "done", "dead", "canceled"}) {
    EXPECT_FALSE(parse_job_state(bad).has_value()) << '"' << bad << '"';
  }
}

}  // namespace
}  // namespace errand
