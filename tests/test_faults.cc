// Failure paths through the real sweepd, with faults injected by the
// documented switch (SWEEP_FAULT, worker/fault.h): a throw on one rank of a
// data-parallel slot fails the run on every rank without a hang, the sweep
// finishes the other runs and exits 1, and a rerun retries it from its
// checkpoint; a retry within one invocation; a process that dies; a NaN; and
// a damaged file refused by every reader.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>

#include "sweep_fixture.h"

namespace sweep {
namespace {

using Clock = std::chrono::steady_clock;

class FaultTest : public SweepFixture {
 protected:
  void SetUp() override {
    SweepFixture::SetUp();
    // A checkpoint at (nearly) every step, so a retry has one to continue from.
    replace_in_job("checkpoint_interval = 0.3", "checkpoint_interval = 0.001");
    unsetenv("SWEEP_FAULT");
  }
  void TearDown() override {
    unsetenv("SWEEP_FAULT");
    SweepFixture::TearDown();
  }
  void use_mpirun(int ranks) {
    launcher_ = {MPIRUN,
                 "--oversubscribe",
                 "--allow-run-as-root",
                 "--bind-to",
                 "none",
                 "-x",
                 "SWEEP_FAULT",
                 "-np",
                 std::to_string(ranks)};
  }
  static std::string capture(const std::string& command, int* exit_code = nullptr) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
    const int status = pclose(pipe);
    if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
  }
  // The run with the most steps (trained first: largest FLOPs), from `plan`.
  std::string longest_run() const {
    const nlohmann::json plan = nlohmann::json::parse(
        capture(std::string(SWEEPD_BINARY) + " plan --json --throughput 1e9 " + job_));
    std::string id;
    int64_t steps = 0;
    for (const auto& run : plan["runs"]) {
      if (run["steps"].get<int64_t>() > steps) {
        steps = run["steps"].get<int64_t>();
        id = run["run_id"].get<std::string>();
      }
    }
    return id;
  }
  // Runs `args`, returning the exit code and the seconds it took.
  std::pair<int, double> timed(const std::vector<std::string>& args) const {
    const auto start_time = Clock::now();
    const int code = wait_exit(start(args));
    return {code, std::chrono::duration<double>(Clock::now() - start_time).count()};
  }
  std::vector<AttemptRecord> history(const std::string& run_id) const {
    const SweepStore store = SweepStore::open_read_only(output_);
    int64_t index = -1;
    for (const RunInfo& run : store.runs())
      if (run.run_id == run_id) index = run.index;
    std::vector<AttemptRecord> out;
    for (const AttemptRecord& a : store.attempts())
      if (a.run == index) out.push_back(a);
    return out;
  }
  RunProgress progress_of(const std::string& run_id) const {
    const SweepStore store = SweepStore::open_read_only(output_);
    for (const RunInfo& run : store.runs())
      if (run.run_id == run_id) return store.progress(run.index);
    ADD_FAILURE() << "no run " << run_id;
    return {};
  }
};

TEST_F(FaultTest, ThrowOnOneRankOfASlotFailsTheRunWithoutAHangAndARerunRetriesIt) {
  add_resources("ranks_per_run = 2\n");
  use_mpirun(3);  // the coordinator and one slot of 2 ranks
  const std::string victim = longest_run();
  ASSERT_FALSE(victim.empty());
  setenv("SWEEP_FAULT", ("run=" + victim + ",step=8,rank=1").c_str(), 1);
  const auto [code, seconds] = timed({job_});
  std::printf("with the fault: exit %d after %.1f s\n", code, seconds);
  EXPECT_EQ(code, 1) << log();
  EXPECT_LT(seconds, 150.0) << "a hang would be stopped only by the test's timeout";

  {
    const SweepStore store = SweepStore::open_read_only(output_);
    for (const RunInfo& run : store.runs()) {
      const RunProgress p = store.progress(run.index);
      if (run.run_id == victim) {
        EXPECT_EQ(p.state, RunState::kFailed);
        EXPECT_NE(p.reason.find("injected fault"), std::string::npos) << p.reason;
        EXPECT_NE(p.reason.find("rank 1 of the slot"), std::string::npos) << p.reason;
        EXPECT_EQ(p.attempts, 2) << "sweep.max_attempts defaults to 2";
      } else {
        EXPECT_EQ(p.state, RunState::kDone) << run.run_id << ": " << p.reason;
      }
    }
  }
  const std::vector<AttemptRecord> failed = history(victim);
  ASSERT_EQ(failed.size(), 2u);
  for (const AttemptRecord& a : failed) {
    EXPECT_EQ(a.outcome, RunOutcome::kFailed);
    EXPECT_EQ(a.end_step, 8);
  }
  EXPECT_GT(failed[1].start_step, 0) << "the retry continues from a checkpoint";

  unsetenv("SWEEP_FAULT");
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();  // curves contiguous: no step twice, none missing
  const std::vector<AttemptRecord> all = history(victim);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].outcome, RunOutcome::kFailed);
  EXPECT_EQ(all[1].outcome, RunOutcome::kFailed);
  EXPECT_EQ(all[2].outcome, RunOutcome::kDone);
  EXPECT_GT(all[2].start_step, 0);
  EXPECT_EQ(progress_of(victim).attempts, 3);
}

TEST_F(FaultTest, FailedRunIsRetriedWithinTheSameInvocation) {
  const std::string victim = longest_run();
  setenv("SWEEP_FAULT", ("run=" + victim + ",step=6,attempt=1").c_str(), 1);
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  EXPECT_NE(log().find("retrying from its last checkpoint"), std::string::npos) << log();
  expect_complete_study();
  const std::vector<AttemptRecord> attempts = history(victim);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].outcome, RunOutcome::kFailed);
  EXPECT_EQ(attempts[1].outcome, RunOutcome::kDone);
  EXPECT_GT(attempts[1].start_step, 0);
  EXPECT_LT(attempts[1].start_step, 6);
}

TEST_F(FaultTest, ProcessThatDiesEndsTheJobAndTheRerunResumes) {
  add_resources("ranks_per_run = 2\n");
  use_mpirun(3);
  const std::string victim = longest_run();
  setenv("SWEEP_FAULT", ("run=" + victim + ",step=8,rank=1,kind=exit").c_str(), 1);
  const auto [code, seconds] = timed({job_});
  std::printf("a rank exits: mpirun exit %d after %.1f s\n", code, seconds);
  EXPECT_NE(code, 0);
  EXPECT_LT(seconds, 150.0);
  unsetenv("SWEEP_FAULT");
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
  const std::vector<AttemptRecord> attempts = history(victim);
  ASSERT_GE(attempts.size(), 2u);
  EXPECT_NE(attempts.front().reason.find("interrupted"), std::string::npos)
      << attempts.front().reason;
  EXPECT_EQ(attempts.back().outcome, RunOutcome::kDone);
}

TEST_F(FaultTest, NanLossIsADivergenceNotAFailure) {
  const std::string victim = longest_run();
  setenv("SWEEP_FAULT", ("run=" + victim + ",step=5,kind=nan").c_str(), 1);
  EXPECT_EQ(wait_exit(start({job_})), 0) << log();  // a diverged run is a result
  const RunProgress p = progress_of(victim);
  EXPECT_EQ(p.state, RunState::kDiverged);
  EXPECT_NE(p.reason.find("non-finite"), std::string::npos) << p.reason;
}

TEST_F(FaultTest, BadFaultSwitchIsAUserError) {
  setenv("SWEEP_FAULT", "run=x,stepp=3", 1);
  EXPECT_EQ(wait_exit(start({job_})), 2);
  EXPECT_NE(log().find("SWEEP_FAULT: unknown key 'stepp'"), std::string::npos) << log();
  EXPECT_FALSE(std::filesystem::exists(output_));
}

TEST_F(FaultTest, DamagedSweepFileIsRefusedByEveryReaderWithinSeconds) {
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  std::mt19937 random(testing_helpers::test_seed());  // which 200 bytes are flipped
  const auto size = std::filesystem::file_size(output_);
  {
    std::fstream file(output_, std::ios::in | std::ios::out | std::ios::binary);
    for (int i = 0; i < 200; ++i) {
      file.seekp(std::streamoff(std::uniform_int_distribution<size_t>(0, size - 1)(random)));
      file.put(char(std::uniform_int_distribution<int>(0, 255)(random)));
    }
  }
  for (const std::string command : {"status", "fit", "report"}) {
    const auto start_time = Clock::now();
    int code = 0;
    const std::string out =
        capture(std::string(SWEEPD_BINARY) + " " + command + " " + output_ + " 2>&1", &code);
    const double seconds = std::chrono::duration<double>(Clock::now() - start_time).count();
    std::printf("sweepd %s: exit %d in %.2f s: %s", command.c_str(), code, seconds, out.c_str());
    EXPECT_EQ(code, 2) << command << ": " << out;
    EXPECT_LT(seconds, 10.0) << command;
  }
}

}  // namespace
}  // namespace sweep
