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

#include "storage/store.h"
#include "test_helpers.h"

namespace sweep {
namespace {

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "run_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    testing_helpers::write_file(dir_ + "/corpus.txt", testing_helpers::english_like_text(300000, 3));
    job_ = dir_ + "/tiny.toml";
    std::ofstream(job_) << "[sweep]\nname = \"tiny\"\noutput = \"" << dir_ << "/tiny.h5\"\n"
                        << "checkpoint_interval = 0.3\n"
                        << "[data]\ncorpus = \"" << dir_ << "/corpus.txt\"\nseq_len = 32\n"
                        << "validation_fraction = 0.05\n"
                        << "[grid]\nbudgets = [3e9, 1e10]\nparams = [3e3, 6e3, 1.2e4]\nmin_steps = 10\n"
                        << "[model]\naspect_ratio = 16\nhead_dim = 8\n"
                        << "[train]\nbatch_tokens = 256\nlr = 3e-3\neval_interval = 40\n"
                        << "eval_tokens = 1024\nlog_interval = 5\n"
                        << "[resources]\nthreads_per_rank = 1\n";
    output_ = dir_ + "/tiny.h5";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  pid_t start(const std::vector<std::string>& args) const {
    const pid_t pid = fork();
    if (pid == 0) {
      const std::string log = dir_ + "/sweepd.log";
      freopen(log.c_str(), "a", stdout);
      freopen(log.c_str(), "a", stderr);
      std::vector<char*> argv{const_cast<char*>(SWEEPD_BINARY)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(SWEEPD_BINARY, argv.data());
      _exit(127);
    }
    return pid;
  }
  static int wait_exit(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string log() const {
    std::ifstream in(dir_ + "/sweepd.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Every run done, finite final loss, curves strictly increasing with the
  // log interval's spacing, ending at the run's last step.
  void expect_complete_study() const {
    SweepStore store = SweepStore::open_read_only(output_);
    ASSERT_EQ(store.runs().size(), 6u);
    for (const RunInfo& run : store.runs()) {
      const RunProgress p = store.progress(run.index);
      EXPECT_EQ(p.state, RunState::kDone) << run.run_id << ": " << p.reason;
      EXPECT_TRUE(std::isfinite(p.final_eval_loss)) << run.run_id;
      const auto train = store.train_curve(run.index);
      ASSERT_FALSE(train.empty()) << run.run_id;
      EXPECT_EQ(train.front().step, 1) << run.run_id;
      EXPECT_EQ(train.back().step, run.steps) << run.run_id;
      for (size_t i = 1; i < train.size(); ++i) {
        const int64_t expected = std::min<int64_t>(run.steps, (train[i - 1].step / 5 + 1) * 5);
        EXPECT_EQ(train[i].step, expected) << run.run_id << " row " << i;
      }
      const auto eval = store.eval_curve(run.index);
      ASSERT_FALSE(eval.empty());
      EXPECT_EQ(eval.front().step, 0);
      EXPECT_EQ(eval.back().step, run.steps);
      for (size_t i = 1; i < eval.size(); ++i) EXPECT_GT(eval[i].step, eval[i - 1].step) << run.run_id;
    }
  }

  std::string dir_, job_, output_;
};

TEST_F(RunTest, TrainsEveryRunIntoTheHdf5File) {
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
  EXPECT_NE(log().find("final validation loss"), std::string::npos) << log();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/tiny.ckpt/C1e9-N6.1K.pt")) << "finished runs keep no checkpoint";
}

TEST_F(RunTest, KilledSweepResumesWithoutRetrainingOrDuplicates) {
  // Kill at random points (printed, to replay a failure), then let it finish.
  std::mt19937 random(std::random_device{}());
  for (int kill = 0; kill < 3; ++kill) {
    const int after_ms = std::uniform_int_distribution<int>(1200, 5000)(random);
    std::printf("SIGKILL after %d ms\n", after_ms);
    std::fflush(stdout);
    const pid_t pid = start({job_});
    std::this_thread::sleep_for(std::chrono::milliseconds(after_ms));
    ::kill(pid, SIGKILL);
    wait_exit(pid);
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
      EXPECT_EQ(store.progress(run.index).wall_seconds, done_wall[run.run_id]) << run.run_id << " was retrained";
    }
  }
}

TEST_F(RunTest, SigtermCheckpointsAndExitsCleanlyThenResumes) {
  const pid_t pid = start({job_});
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const auto sent = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  const int code = wait_exit(pid);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  EXPECT_EQ(code, 0) << log();
  EXPECT_LT(seconds, 10.0);
  if (log().find("stopped by signal") == std::string::npos) {
    GTEST_SKIP() << "the sweep finished before the signal arrived";
  }
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
