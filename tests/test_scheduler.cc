// The run state machine and the largest-first policy.

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "orchestrator/scheduler.h"
#include "spec/slots.h"
#include "worker/protocol.h"

namespace sweep {
namespace {

// The run next() would start (one group of one rank by default), or -1.
int next_run(const Scheduler& s) {
  const std::optional<Placement> p = s.next();
  return p ? p->run : -1;
}

SlotGroup group_of(std::vector<int> ranks, int nodes = 1) {
  SlotGroup g;
  g.ranks = std::move(ranks);
  g.nodes = nodes;
  return g;
}

TEST(Scheduler, GivesTheLargestPendingRunFirst) {
  Scheduler s({1e12, 5e12, 3e12}, {RunState::kPending, RunState::kPending, RunState::kPending}, {},
              /*max_attempts=*/1);
  s.set_groups({group_of({1}), group_of({2}), group_of({3})});
  EXPECT_EQ(next_run(s), 1);
  s.start(1, s.next()->group);
  EXPECT_EQ(next_run(s), 2);
  s.start(2, s.next()->group);
  EXPECT_EQ(next_run(s), 0);
  s.start(0, s.next()->group);
  EXPECT_EQ(next_run(s), -1);
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
  EXPECT_EQ(next_run(s), 0);
}

TEST(Scheduler, FailedRunIsRetriedUpToMaxAttemptsThenLeftFailed) {
  Scheduler s({1.0, 2.0}, {RunState::kPending, RunState::kPending}, {}, /*max_attempts=*/3);
  s.start(1);
  EXPECT_EQ(s.finish(1, RunOutcome::kFailed), RunState::kPending);  // attempt 1 of 3
  EXPECT_EQ(next_run(s), 1);  // still the largest: retried first
  s.start(1);
  EXPECT_EQ(s.finish(1, RunOutcome::kFailed), RunState::kPending);  // 2 of 3
  s.start(1);
  EXPECT_EQ(s.finish(1, RunOutcome::kFailed), RunState::kFailed);  // 3 of 3: left failed
  EXPECT_EQ(s.failures(1), 3);
  EXPECT_EQ(next_run(s), 0);  // the others go on
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
  s.set_groups({group_of({1, 2, 3, 4}), group_of({5, 6, 7, 8, 9, 10, 11, 12})});
  // The largest run takes the largest free slot; the other one fits the slot of 4.
  EXPECT_EQ(s.next()->run, 0);
  EXPECT_EQ(s.next()->group, 1);
  s.start(0, 1);
  EXPECT_EQ(s.next()->run, 1);
  EXPECT_EQ(s.next()->group, 0);
  s.start(1, 0);
  s.finish(1, RunOutcome::kDone);
  EXPECT_FALSE(s.next().has_value());  // the slot of 4 is free, but only the slot of 8 fits run 0
}

TEST(Scheduler, FixedSlotsGiveTheLargestRunsTheLargestFreeSlots) {
  Scheduler s({1.0, 5.0, 3.0}, std::vector<RunState>(3, RunState::kPending));
  s.set_groups({group_of({1, 2}), group_of({3, 4, 5, 6}), group_of({7})});
  const std::optional<Placement> first = s.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->run, 1);
  EXPECT_EQ(first->group, 1);
  s.start(first->run, first->group);
  EXPECT_EQ(s.next()->group, 0);
  EXPECT_THROW(s.start(2, 1), std::logic_error);  // busy
}

TEST(Scheduler, ARankInNestedGroupsTrainsOneRunAtATime) {
  // Two nodes of 4: singles, pairs, halves, the whole node and both nodes.
  const NodeRanks nodes = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  const std::vector<SlotGroup> groups = nested_groups(nodes, /*batch_sequences=*/8, 0, 0);
  // Run 0 (the largest) is sized to both nodes, the others to single ranks.
  Scheduler s({100.0, 1.0, 2.0, 3.0}, std::vector<RunState>(4, RunState::kPending));
  s.set_groups(groups, {8, 1, 1, 1});
  std::optional<Placement> p = s.next();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->run, 0);
  EXPECT_EQ(s.groups()[size_t(p->group)].size(), 8);
  EXPECT_EQ(s.groups()[size_t(p->group)].nodes, 2);
  s.start(p->run, p->group);
  EXPECT_FALSE(s.next().has_value()) << "every rank trains run 0";
  s.finish(0, RunOutcome::kDone);
  std::vector<int> used;
  while ((p = s.next())) {
    EXPECT_EQ(s.groups()[size_t(p->group)].size(), 1);
    s.start(p->run, p->group);
    used.push_back(s.groups()[size_t(p->group)].ranks[0]);
  }
  EXPECT_EQ(used.size(), 3u);
  // Best fit: the small runs share one pair and the pair next to it, leaving node 2 whole.
  for (int rank : used) EXPECT_LE(rank, 4) << "a single on the second node splits it";
}

TEST(Scheduler, NestedGroupsAreAlignedPowersOfTwoInsideAndAcrossNodes) {
  const NodeRanks nodes = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  const std::vector<SlotGroup> groups = nested_groups(nodes, 8, 0, 0);
  std::map<int, int> count;
  for (const SlotGroup& g : groups) ++count[g.size()];
  EXPECT_EQ(count, (std::map<int, int>{{1, 8}, {2, 4}, {4, 2}, {8, 1}}));
  EXPECT_EQ(groups.back().ranks, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(groups.back().nodes, 2);
  EXPECT_EQ(disjoint_layers(groups).size(), 4u);
  // The batch bounds the groups: 4 sequences allow no group of 8.
  for (const SlotGroup& g : nested_groups(nodes, 4, 0, 0)) EXPECT_LE(g.size(), 4);
  // max_nodes_per_run = 1 keeps every group inside a node.
  for (const SlotGroup& g : nested_groups(nodes, 8, 0, 1)) EXPECT_EQ(g.nodes, 1);
  // Uneven nodes (7 and 8 workers): node groups take the first 4 of each;
  // no worker is left out of the singles.
  const NodeRanks uneven = {{1, 2, 3, 4, 5, 6, 7}, {8, 9, 10, 11, 12, 13, 14, 15}};
  const std::vector<SlotGroup> u = nested_groups(uneven, 256, 0, 0);
  EXPECT_EQ(idle_ranks(uneven, u), 0);
  const SlotGroup& both = u.back();
  EXPECT_EQ(both.nodes, 2);
  EXPECT_EQ(both.ranks, (std::vector<int>{1, 2, 3, 4, 8, 9, 10, 11}));
  EXPECT_TRUE(divides_batch(4, 256, 8));
  EXPECT_FALSE(divides_batch(3, 256, 8));
  EXPECT_FALSE(divides_batch(16, 256, 3));  // 16 sequences per rank in micro-batches of 3
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

TEST(Scheduler, RunsWaitForTheirPrerequisitesWhichGoFirst) {
  // Runs 0 and 1 (small tune runs) gate run 3; run 2 waits for nothing.
  Scheduler s({1e10, 2e10, 5e12, 9e12}, std::vector<RunState>(4, RunState::kPending), {},
              /*max_attempts=*/1);
  s.set_groups({group_of({1}), group_of({2})});
  s.set_prerequisites({{}, {}, {}, {0, 1}});
  // The gating runs first, although run 2 is larger; run 3 waits.
  EXPECT_EQ(next_run(s), 1);
  s.start(1, s.next()->group);
  EXPECT_EQ(next_run(s), 0);
  s.start(0, s.next()->group);
  EXPECT_EQ(next_run(s), -1) << "both groups busy";
  s.finish(1, RunOutcome::kDone);
  EXPECT_EQ(next_run(s), 2) << "run 3 still waits for run 0";
  s.start(2, s.next()->group);
  // A prerequisite that fails for good ends the wait too.
  EXPECT_EQ(s.finish(0, RunOutcome::kFailed), RunState::kFailed);
  EXPECT_EQ(next_run(s), 3);
  EXPECT_THROW(s.set_prerequisites({{}, {}, {}}), std::invalid_argument);
  EXPECT_THROW(s.set_prerequisites({{}, {}, {}, {7}}), std::invalid_argument);
}

}  // namespace
}  // namespace sweep
