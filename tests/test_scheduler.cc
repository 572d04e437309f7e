// The run state machine and the largest-first policy.

#include <gtest/gtest.h>

#include <cmath>

#include "orchestrator/scheduler.h"
#include "spec/slots.h"
#include "worker/protocol.h"

namespace sweep {
namespace {

TEST(Scheduler, GivesTheLargestPendingRunFirst) {
  Scheduler s({1e12, 5e12, 3e12}, {RunState::kPending, RunState::kPending, RunState::kPending}, {},
              /*max_attempts=*/1);
  EXPECT_EQ(s.next_for(1), 1);
  s.start(1);
  EXPECT_EQ(s.next_for(1), 2);
  s.start(2);
  EXPECT_EQ(s.next_for(1), 0);
  s.start(0);
  EXPECT_FALSE(s.next_for(1).has_value());
  EXPECT_FALSE(s.finished());
  EXPECT_EQ(s.finish(0, RunOutcome::kDone), RunState::kDone);
  EXPECT_EQ(s.finish(1, RunOutcome::kDiverged), RunState::kDiverged);
  EXPECT_EQ(s.finish(2, RunOutcome::kFailed), RunState::kFailed);
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.count(RunState::kDone), 1);
  EXPECT_EQ(s.count(RunState::kDiverged), 1);
  EXPECT_EQ(s.count(RunState::kFailed), 1);
}

TEST(Scheduler, IllegalTransitionsThrow) {
  Scheduler s({1.0, 2.0}, {RunState::kPending, RunState::kDone});
  EXPECT_THROW(s.finish(0, RunOutcome::kDone), std::logic_error);  // not running
  EXPECT_THROW(s.start(1), std::logic_error);                      // done is final
  s.start(0);
  EXPECT_THROW(s.start(0), std::logic_error);
}

TEST(Scheduler, StoppedRunsArePendingAgainAndDoNotCountAsAttempts) {
  Scheduler s({1.0}, {RunState::kPending}, {}, /*max_attempts=*/1);
  for (int i = 0; i < 3; ++i) {
    s.start(0);
    EXPECT_EQ(s.finish(0, RunOutcome::kStopped), RunState::kPending);
  }
  EXPECT_EQ(s.failures(0), 0);
  EXPECT_EQ(s.next_for(1), 0);
}

TEST(Scheduler, FailedRunIsRetriedUpToMaxAttemptsThenLeftFailed) {
  Scheduler s({1.0, 2.0}, {RunState::kPending, RunState::kPending}, {}, /*max_attempts=*/3);
  s.start(1);
  EXPECT_EQ(s.finish(1, RunOutcome::kFailed), RunState::kPending);  // attempt 1 of 3
  EXPECT_EQ(s.next_for(1), 1);  // still the largest: retried first
  s.start(1);
  EXPECT_EQ(s.finish(1, RunOutcome::kFailed), RunState::kPending);  // 2 of 3
  s.start(1);
  EXPECT_EQ(s.finish(1, RunOutcome::kFailed), RunState::kFailed);  // 3 of 3: left failed
  EXPECT_EQ(s.failures(1), 3);
  EXPECT_EQ(s.next_for(1), 0);  // the others go on
  EXPECT_FALSE(s.finished());
  s.start(0);
  s.finish(0, RunOutcome::kDone);
  EXPECT_TRUE(s.finished());
}

TEST(Scheduler, RestartKeepsFinalStatesAndRetriesEverythingElse) {
  // What a new invocation makes of the file: a run that was running when the
  // sweep died, and a run that failed in the last invocation, are pending
  // with a fresh set of attempts; done and diverged are never trained again.
  Scheduler s({1.0, 2.0, 3.0, 4.0, 5.0}, {RunState::kRunning, RunState::kFailed, RunState::kDone,
                                          RunState::kDiverged, RunState::kPending});
  EXPECT_EQ(s.state(0), RunState::kPending);
  EXPECT_EQ(s.state(1), RunState::kPending);
  EXPECT_EQ(s.state(2), RunState::kDone);
  EXPECT_EQ(s.state(3), RunState::kDiverged);
  EXPECT_EQ(s.state(4), RunState::kPending);
  EXPECT_EQ(s.failures(1), 0);
  EXPECT_EQ(restart_state(RunState::kFailed), RunState::kPending);
  EXPECT_EQ(restart_state(RunState::kDiverged), RunState::kDiverged);
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
  m.header.end.final_eval_loss = 2.5;
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

TEST(Protocol, ResultsKeepEveryFieldOfTheOutcome) {
  RunResult r;
  r.outcome = RunOutcome::kFailed;
  r.reason = "rank 1 of the slot: injected fault (SWEEP_FAULT): throw at step 8 on rank 1";
  r.start_step = 4;
  r.steps_done = 8;
  r.final_train_loss = 3.25;
  r.wall_time = 12.5;
  const RunResult back = result_of(unpack(pack(result_message(/*slot=*/2, /*run=*/5, r))));
  EXPECT_EQ(back.outcome, RunOutcome::kFailed);
  EXPECT_EQ(back.reason, r.reason);
  EXPECT_EQ(back.start_step, 4);
  EXPECT_EQ(back.steps_done, 8);
  EXPECT_DOUBLE_EQ(back.final_train_loss, 3.25);
  EXPECT_TRUE(std::isnan(back.final_eval_loss));
  EXPECT_DOUBLE_EQ(back.wall_time, 12.5);
  EXPECT_EQ(to_string(back.outcome), std::string("failed"));
  EXPECT_EQ(parse_run_outcome("stopped"), RunOutcome::kStopped);
}

}  // namespace
}  // namespace sweep
