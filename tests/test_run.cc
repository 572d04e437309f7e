// `sweepd JOB.toml` end to end on a tiny generated study: real training, a real
// HDF5 file, kills and resumes, signals, and files that are not ours.

#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "sweep_fixture.h"

namespace sweep {
namespace {

using RunTest = SweepFixture;

TEST_F(RunTest, TrainsEveryRunIntoTheHdf5File) {
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
  EXPECT_NE(log().find("final validation loss"), std::string::npos) << log();
  // The fit and its report follow the last run.
  EXPECT_NE(log().find("report: " + dir_ + "/tiny-report.html"), std::string::npos) << log();
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/tiny-report.html"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/tiny-report.json"));
  EXPECT_TRUE(!std::filesystem::exists(dir_ + "/tiny.ckpt") ||
              std::filesystem::is_empty(dir_ + "/tiny.ckpt"))
      << "finished runs keep no checkpoint";
}

TEST_F(RunTest, KilledSweepResumesWithoutRetrainingOrDuplicates) {
  // Kill at random points (printed, to replay a failure), then let it finish.
  replace_in_job("budgets = [3e9, 1e10]", "budgets = [1e10, 3e10]");
  std::mt19937 random(testing_helpers::test_seed());
  for (int kill = 0; kill < 3; ++kill) {
    const int after_ms = std::uniform_int_distribution<int>(1500, 6000)(random);
    std::printf("SIGKILL after %d ms\n", after_ms);
    std::fflush(stdout);
    const pid_t pid = start({job_});
    std::this_thread::sleep_for(std::chrono::milliseconds(after_ms));
    kill_all(pid);
  }
  // Runs that were done before the last kill must not be trained again.
  std::map<std::string, double> done_wall;
  if (std::filesystem::exists(output_)) {
    SweepStore store = SweepStore::open_read_only(output_);
    for (const RunInfo& run : store.runs()) {
      const RunProgress p = store.progress(run.index);
      if (p.state == RunState::kDone) done_wall[run.run_id] = p.wall_seconds;
    }
  }
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
  SweepStore store = SweepStore::open_read_only(output_);
  for (const RunInfo& run : store.runs()) {
    if (done_wall.count(run.run_id)) {
      EXPECT_EQ(store.progress(run.index).wall_seconds, done_wall[run.run_id])
          << run.run_id << " was retrained";
    }
  }
}

TEST_F(RunTest, SigtermCheckpointsAndExitsCleanlyThenResumes) {
  replace_in_job("budgets = [3e9, 1e10]", "budgets = [1e10, 3e10]");
  const pid_t pid = start({job_});
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const auto sent = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  const int code = wait_exit(pid);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  EXPECT_EQ(code, 0) << log();
  EXPECT_LT(seconds, 10.0);
  ASSERT_NE(log().find("stopped (signal 15)"), std::string::npos) << log();
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
}

TEST_F(RunTest, DeadlineStopsCleanlyLikeASignal) {
  replace_in_job("budgets = [3e9, 1e10]", "budgets = [1e10, 3e10]");
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(wait_exit(start({job_, "--deadline", "3s"})), 0) << log();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LT(seconds, 15.0);
  EXPECT_NE(log().find("stopped (deadline)"), std::string::npos) << log();
  EXPECT_EQ(wait_exit(start({job_, "--deadline", "soon"})), 2);
  EXPECT_NE(log().find("--deadline soon: use a walltime"), std::string::npos) << log();
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
}

TEST_F(RunTest, ForeignHdf5FileIsRefusedAndLeftAlone) {
  const std::string foreign = dir_ + "/foreign.h5";
  H5Fclose(H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  const auto size = std::filesystem::file_size(foreign);
  EXPECT_EQ(wait_exit(start({job_, "--output", foreign})), 2);
  EXPECT_NE(log().find("not written by sweepd"), std::string::npos) << log();
  EXPECT_EQ(std::filesystem::file_size(foreign), size);

  const std::string corrupt = dir_ + "/corrupt.h5";
  std::ofstream(corrupt) << "garbage";
  EXPECT_EQ(wait_exit(start({job_, "--output", corrupt})), 2);
  EXPECT_NE(log().find("not an HDF5 file"), std::string::npos) << log();
}

}  // namespace
}  // namespace sweep
