#pragma once
// A tiny generated study that tests run through the real sweepd binary (one
// process or under mpirun): 2 budgets x 3 sizes on generated English-like text.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/store.h"
#include "test_helpers.h"

namespace sweep {

class SweepFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "run_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    testing_helpers::write_file(dir_ + "/corpus.txt",
                                testing_helpers::english_like_text(300000, 3));
    job_ = dir_ + "/tiny.toml";
    std::ofstream(job_)
        << "[sweep]\nname = \"tiny\"\noutput = \"" << dir_ << "/tiny.h5\"\n"
        << "checkpoint_interval = 0.3\n"
        << "[data]\ncorpus = \"" << dir_ << "/corpus.txt\"\nseq_len = 32\n"
        << "validation_fraction = 0.05\n"
        << "[grid]\nbudgets = [3e9, 1e10]\nparams = [3e3, 6e3, 1.2e4]\nmin_steps = 10\n"
        << "[model]\naspect_ratio = 16\nhead_dim = 8\n"
        << "[train]\nbatch_tokens = 256\nlr = 3e-3\neval_interval = 40\n"
        << "eval_tokens = 1024\nlog_interval = 5\n"
        << "[fit]\nbootstrap = 100\n"
        << "[resources]\nthreads_per_rank = 1\n";  // last: tests append resources keys
    output_ = dir_ + "/tiny.h5";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Starts `launcher... sweepd args...` in its own process group (so a kill
  // of the group takes every rank down, as a scheduler's kill would).
  pid_t start(const std::vector<std::string>& args) const {
    std::vector<std::string> command = launcher_;
    command.push_back(SWEEPD_BINARY);
    command.insert(command.end(), args.begin(), args.end());
    const pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      const std::string log = dir_ + "/sweepd.log";
      freopen(log.c_str(), "a", stdout);
      freopen(log.c_str(), "a", stderr);
      std::vector<char*> argv;
      for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    setpgid(pid, pid);
    return pid;
  }
  static void kill_all(pid_t pid) {
    ::kill(-pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ::kill(-pid, SIGKILL);  // stragglers of the group
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
      for (size_t i = 1; i < eval.size(); ++i)
        EXPECT_GT(eval[i].step, eval[i - 1].step) << run.run_id;
    }
  }

  // Rewrites part of the job file (e.g. a longer study for kill tests).
  void replace_in_job(const std::string& from, const std::string& to) {
    std::ifstream in(job_);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    std::ofstream(job_) << text;
  }

  // Appends lines to the job file's [resources] (the last section).
  void add_resources(const std::string& lines) { std::ofstream(job_, std::ios::app) << lines; }

  std::string dir_, job_, output_;
  std::vector<std::string> launcher_;  // e.g. mpirun -np 3; empty: one process
};

}  // namespace sweep
