// The run state machine and the largest-first policy.

#include <gtest/gtest.h>

#include "orchestrator/protocol.h"
#include "orchestrator/scheduler.h"

namespace sweep {
namespace {

TEST(Scheduler, GivesTheLargestPendingRunFirst) {
  Scheduler s({1e12, 5e12, 3e12}, {RunState::kPending, RunState::kPending, RunState::kPending});
  EXPECT_EQ(s.next_for(1), 1);
  s.transition(1, RunEvent::kStart);
  EXPECT_EQ(s.next_for(1), 2);
  s.transition(2, RunEvent::kStart);
  EXPECT_EQ(s.next_for(1), 0);
  s.transition(0, RunEvent::kStart);
  EXPECT_FALSE(s.next_for(1).has_value());
  EXPECT_FALSE(s.finished());
  s.transition(0, RunEvent::kFinish);
  s.transition(1, RunEvent::kDiverge);
  s.transition(2, RunEvent::kFail);
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.count(RunState::kDone), 1);
  EXPECT_EQ(s.count(RunState::kDiverged), 1);
  EXPECT_EQ(s.count(RunState::kFailed), 1);
}

TEST(Scheduler, IllegalTransitionsThrow) {
  Scheduler s({1.0, 2.0}, {RunState::kPending, RunState::kDone});
  EXPECT_THROW(s.transition(0, RunEvent::kFinish), std::logic_error);  // not running
  EXPECT_THROW(s.transition(1, RunEvent::kStart), std::logic_error);   // done is final
  s.transition(0, RunEvent::kStart);
  EXPECT_THROW(s.transition(0, RunEvent::kStart), std::logic_error);
}

TEST(Scheduler, StoppedRunsArePendingAgainAndResumedRunsRestart) {
  // A file from a killed sweep says "running": that run is pending again.
  Scheduler s({1.0, 2.0}, {RunState::kRunning, RunState::kDone});
  EXPECT_EQ(s.state(0), RunState::kPending);
  s.transition(0, RunEvent::kStart);
  s.transition(0, RunEvent::kStop);
  EXPECT_EQ(s.state(0), RunState::kPending);
  EXPECT_EQ(s.next_for(1), 0);
}

TEST(Scheduler, RunsGoOnlyToSlotsLargeEnough) {
  Scheduler s({9.0, 1.0}, {RunState::kPending, RunState::kPending}, {8, 1});
  EXPECT_EQ(s.next_for(4), 1);
  EXPECT_EQ(s.next_for(8), 0);
}

TEST(Scheduler, NodesAreCutIntoSlotsBySizesInTurn) {
  EXPECT_EQ(cut_into_slots(8, {8}), (std::vector<int>{8}));
  EXPECT_EQ(cut_into_slots(7, {8}), (std::vector<int>{}));  // node 0 minus the coordinator
  EXPECT_EQ(cut_into_slots(8, {4, 2}), (std::vector<int>{4, 2, 2}));
  EXPECT_EQ(cut_into_slots(7, {4, 2}), (std::vector<int>{4, 2}));
  EXPECT_EQ(cut_into_slots(3, {2, 1}), (std::vector<int>{2, 1}));
  EXPECT_EQ(cut_into_slots(5, {1}), (std::vector<int>{1, 1, 1, 1, 1}));
}

TEST(Protocol, MessagesRoundTrip) {
  Message m;
  m.header.kind = MessageKind::kResult;
  m.header.run = 7;
  m.header.final_eval_loss = 2.5;
  m.train = {{10, 100, 1e9, 3.0, 1e-3, 0.5, 1.0}, {20, 200, 2e9, 2.9, 1e-3, 0.4, 2.0}};
  m.eval = {{20, 200, 2e9, 2.95, 2.0}};
  m.reason = "loss blew up at step 20";
  const Message back = unpack(pack(m));
  EXPECT_EQ(back.header.run, 7);
  EXPECT_EQ(back.header.kind, MessageKind::kResult);
  ASSERT_EQ(back.train.size(), 2u);
  EXPECT_EQ(back.train[1].step, 20);
  EXPECT_DOUBLE_EQ(back.eval[0].loss, 2.95);
  EXPECT_EQ(back.reason, m.reason);
  std::vector<char> truncated = pack(m);
  truncated.pop_back();
  EXPECT_THROW(unpack(truncated), std::runtime_error);
}

}  // namespace
}  // namespace sweep
