// The HDF5 store: round trip, resume rules, and clear errors for files that
// are not ours.

#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "common/error.h"
#include "storage/store.h"
#include "test_helpers.h"

namespace sweep {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "store_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = dir_ + "/sweep.h5";
    info_.sweep_name = "t";
    info_.job_path = "t.toml";
    info_.job_text = "[data]\ncorpus = \"x\"\n";
    info_.sweepd_version = "test";
    info_.flop_convention = "6N";
    info_.fingerprint = "grid-1";
    for (int i = 0; i < 3; ++i) {
      RunInfo r;
      r.run_id = "C1e12-N" + std::to_string(10 + i) + "K";
      r.index = i;
      r.budget = 1e12;
      r.params_total = 10000 * (i + 1);
      r.n_layer = i + 1;
      r.d_model = 32;
      r.tokens = 1000000;
      r.steps = 100;
      r.flops = 1e12;
      runs_.push_back(r);
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_, path_;
  SweepInfo info_;
  std::vector<RunInfo> runs_;
};

TEST_F(StoreTest, RoundTripsSpecsCurvesAndStatus) {
  {
    SweepStore store = SweepStore::open(path_, info_, runs_);
    EXPECT_TRUE(store.created());
    store.start_writing();
    store.append_train(1, {10, 20480, 2e9, 3.5, 1e-3, 0.7, 1.5});
    store.append_train(1, {20, 40960, 4e9, 3.1, 1e-3, 0.6, 3.0});
    store.append_eval(1, {20, 40960, 4e9, 3.2, 3.0});
    RunProgress p;
    p.state = RunState::kDone;
    p.steps_done = 20;
    p.final_eval_loss = 3.2;
    store.set_progress(1, p);
    store.flush();
  }
  SweepStore read = SweepStore::open_read_only(path_);
  EXPECT_EQ(read.info().job_text, info_.job_text);
  ASSERT_EQ(read.runs().size(), 3u);
  EXPECT_EQ(read.runs()[2].run_id, "C1e12-N12K");
  EXPECT_EQ(read.runs()[2].n_layer, 3);
  const auto train = read.train_curve(1);
  ASSERT_EQ(train.size(), 2u);
  EXPECT_EQ(train[1].step, 20);
  EXPECT_DOUBLE_EQ(train[1].loss, 3.1);
  EXPECT_DOUBLE_EQ(read.eval_curve(1).at(0).loss, 3.2);
  EXPECT_EQ(read.progress(1).state, RunState::kDone);
  EXPECT_DOUBLE_EQ(read.progress(1).final_eval_loss, 3.2);
  EXPECT_EQ(read.progress(0).state, RunState::kPending);
  EXPECT_TRUE(read.train_curve(0).empty());
}

// Schema 3: each run's variant, family and active parameters, in its
// attributes and in the summary row (read back by name, as h5py reads it).
TEST_F(StoreTest, VariantsAndFamiliesRoundTrip) {
  runs_[0].variant = "gpt";
  runs_[1].variant = "moe";
  runs_[1].family = "moe";
  runs_[1].params_active = 8000;
  runs_[1].n_kv_head = 2;
  runs_[1].n_experts = 8;
  runs_[1].top_k = 2;
  {
    SweepStore store = SweepStore::open(path_, info_, runs_);
    store.start_writing();
  }
  SweepStore read = SweepStore::open_read_only(path_);
  const auto& runs = read.runs();
  EXPECT_EQ(runs[0].variant, "gpt");
  EXPECT_EQ(runs[0].family, "gpt2");
  EXPECT_EQ(runs[0].params_active, runs[0].params_total);  // dense: not given = total
  EXPECT_EQ(runs[1].family, "moe");
  EXPECT_EQ(runs[1].params_active, 8000);
  EXPECT_EQ(runs[1].n_experts, 8);
  EXPECT_EQ(runs[1].top_k, 2);
  EXPECT_EQ(runs[1].n_kv_head, 2);
  EXPECT_EQ(runs[2].variant, "");

  struct Row {
    char variant[32];
    char family[16];
    int64_t params_active;
  };
  const hid_t file = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t summary = H5Dopen2(file, "summary", H5P_DEFAULT);
  const hid_t type = H5Tcreate(H5T_COMPOUND, sizeof(Row));
  const hid_t v = H5Tcopy(H5T_C_S1), f = H5Tcopy(H5T_C_S1);
  H5Tset_size(v, 32);
  H5Tset_size(f, 16);
  H5Tinsert(type, "variant", HOFFSET(Row, variant), v);
  H5Tinsert(type, "family", HOFFSET(Row, family), f);
  H5Tinsert(type, "params_active", HOFFSET(Row, params_active), H5T_NATIVE_INT64);
  Row rows[3];
  ASSERT_GE(H5Dread(summary, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows), 0);
  EXPECT_STREQ(rows[1].variant, "moe");
  EXPECT_STREQ(rows[1].family, "moe");
  EXPECT_EQ(rows[1].params_active, 8000);
  EXPECT_EQ(rows[2].params_active, 30000);
  H5Tclose(v);
  H5Tclose(f);
  H5Tclose(type);
  H5Dclose(summary);
  H5Fclose(file);
}

// Schema 4: a tuning run and a grid run whose lr is decided when it starts.
TEST_F(StoreTest, RolesRoundTripAndAnUndecidedLrReadsAsNaN) {
  runs_[0].role = "tune";
  runs_[0].lr = 3e-3;
  runs_[1].lr = NAN;
  {
    SweepStore store = SweepStore::open(path_, info_, runs_);
    store.start_writing();
  }
  SweepStore read = SweepStore::open_read_only(path_);
  const auto& runs = read.runs();
  EXPECT_EQ(runs[0].role, "tune");
  EXPECT_EQ(runs[1].role, "grid");
  EXPECT_EQ(runs[2].role, "grid");
  EXPECT_DOUBLE_EQ(runs[0].lr, 3e-3);
  EXPECT_TRUE(std::isnan(runs[1].lr)) << runs[1].lr;

  struct Row {
    char role[8];
  };
  const hid_t file = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t summary = H5Dopen2(file, "summary", H5P_DEFAULT);
  const hid_t type = H5Tcreate(H5T_COMPOUND, sizeof(Row));
  const hid_t role = H5Tcopy(H5T_C_S1);
  H5Tset_size(role, 8);
  H5Tinsert(type, "role", HOFFSET(Row, role), role);
  Row rows[3];
  ASSERT_GE(H5Dread(summary, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows), 0);
  EXPECT_STREQ(rows[0].role, "tune");
  EXPECT_STREQ(rows[1].role, "grid");
  H5Tclose(role);
  H5Tclose(type);
  H5Dclose(summary);
  H5Fclose(file);
}

// Runs `read` in a process forked before the writer opens the file, so that it
// shares no HDF5 state with it (as `sweepd status` does), once release() is
// called; `read` returns "" or what went wrong.
class ReaderProcess {
 public:
  explicit ReaderProcess(const std::function<std::string()>& read) {
    int go[2], result[2];
    if (pipe(go) != 0 || pipe(result) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      ::close(go[1]);
      ::close(result[0]);
      char byte;
      std::string failure = ::read(go[0], &byte, 1) == 1 ? "" : "never released";
      if (failure.empty()) {
        try {
          failure = read();
        } catch (const std::exception& e) {
          failure = e.what();
        }
      }
      if (!failure.empty() && ::write(result[1], failure.data(), failure.size()) < 0) _exit(2);
      _exit(failure.empty() ? 0 : 1);
    }
    ::close(go[0]);
    ::close(result[1]);
    go_ = go[1];
    result_ = result[0];
  }
  // Lets the reader read, waits for it, and returns its failure ("" = none).
  std::string release() {
    const char byte = 1;
    if (::write(go_, &byte, 1) != 1) return "cannot release the reader";
    std::string failure;
    char buffer[256];
    for (ssize_t n; (n = ::read(result_, buffer, sizeof(buffer))) > 0;) failure.append(buffer, n);
    int status = 0;
    waitpid(pid_, &status, 0);
    ::close(go_);
    ::close(result_);
    if (failure.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
      failure = "reader ended with status " + std::to_string(status);
    return failure;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1, result_ = -1;
};

TEST_F(StoreTest, SetRecipeWhileWritingIsSeenByReadersAndKeptBySetProgress) {
  runs_[1].lr = NAN;
  ReaderProcess reader([&]() -> std::string {
    const SweepStore read = SweepStore::open_read_only(path_);
    const double lr = read.runs()[1].lr;
    const RunProgress p = read.progress(1);
    if (lr != 2e-3) return "a live reader saw lr " + std::to_string(lr) + ", not 0.002";
    if (read.runs()[1].recipe != 3)
      return "a live reader saw recipe " + std::to_string(read.runs()[1].recipe) + ", not 3";
    if (p.state != RunState::kRunning || p.steps_done != 5 || p.attempts != 1 || p.reason != "x")
      return std::string("set_recipe changed the row's status part: ") + to_string(p.state) + ", " +
             std::to_string(p.steps_done) + " steps, " + std::to_string(p.attempts) +
             " attempts, reason '" + p.reason + "'";
    return "";
  });
  SweepStore store = SweepStore::open(path_, info_, runs_);
  store.start_writing();
  RunProgress p;
  p.state = RunState::kRunning;
  p.reason = "x";
  p.steps_done = 5;
  p.attempts = 1;
  store.set_progress(1, p);
  store.set_recipe(1, 2e-3, 3);
  store.flush();
  EXPECT_EQ(reader.release(), "");

  p.state = RunState::kDone;
  p.steps_done = 100;
  store.set_progress(1, p);
  EXPECT_DOUBLE_EQ(store.runs()[1].lr, 2e-3);
  store.flush();
  {
    const SweepStore read = SweepStore::open_read_only(path_);
    EXPECT_DOUBLE_EQ(read.runs()[1].lr, 2e-3);
    EXPECT_EQ(read.progress(1).state, RunState::kDone);
  }
  // The attribute keeps the lr of creation: SWMR cannot rewrite it.
  const hid_t file = H5Fopen(path_.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const std::string group_path = "runs/" + runs_[1].run_id;
  const hid_t attribute = H5Aopen_by_name(file, group_path.c_str(), "lr", H5P_DEFAULT, H5P_DEFAULT);
  double lr = 0;
  ASSERT_GE(H5Aread(attribute, H5T_NATIVE_DOUBLE, &lr), 0);
  EXPECT_TRUE(std::isnan(lr)) << lr;
  H5Aclose(attribute);
  H5Fclose(file);
}

TEST_F(StoreTest, ResumeGivesBackTheLrARunLearnedWhenItStarted) {
  runs_[0].lr = 3e-3;
  runs_[1].lr = runs_[2].lr = NAN;
  {
    SweepStore store = SweepStore::open(path_, info_, runs_);
    store.start_writing();
    store.set_recipe(1, 2e-3, 3);
  }
  SweepStore store = SweepStore::open(path_, info_, runs_);
  EXPECT_FALSE(store.created());
  EXPECT_DOUBLE_EQ(store.runs()[0].lr, 3e-3);
  EXPECT_DOUBLE_EQ(store.runs()[1].lr, 2e-3);
  EXPECT_EQ(store.runs()[1].recipe, 3);
  EXPECT_TRUE(std::isnan(store.runs()[2].lr)) << "a run not started yet: " << store.runs()[2].lr;
  EXPECT_EQ(store.runs()[2].recipe, -1);
}

TEST_F(StoreTest, ResumeKeepsFinishedRunsAndTruncatesCurvesToTheCheckpoint) {
  {
    SweepStore store = SweepStore::open(path_, info_, runs_);
    store.start_writing();
    for (int s = 1; s <= 5; ++s) store.append_train(0, {s * 10, 0, 0, 3.0, 0, 0, 0});
    RunProgress p;
    p.state = RunState::kRunning;
    store.set_progress(0, p);
  }  // as if killed (the destructor closes; a SIGKILL leaves the same data)
  SweepStore store = SweepStore::open(path_, info_, runs_);
  EXPECT_FALSE(store.created());
  EXPECT_EQ(store.progress(0).state, RunState::kRunning);
  ASSERT_EQ(store.train_curve(0).size(), 5u);
  store.reset_curves(0, {{10, 0, 0, 3.0, 0, 0, 0}, {20, 0, 0, 3.0, 0, 0, 0}}, {});
  store.start_writing();
  store.append_train(0, {30, 0, 0, 2.9, 0, 0, 0});
  const auto train = store.train_curve(0);
  ASSERT_EQ(train.size(), 3u);
  EXPECT_EQ(train[2].step, 30);
  EXPECT_DOUBLE_EQ(train[2].loss, 2.9);
}

TEST_F(StoreTest, SecondWriterIsStoppedByTheLock) {
  SweepStore first = SweepStore::open(path_, info_, runs_);
  try {
    SweepStore::open(path_, info_, runs_);
    FAIL() << "a second writer was allowed";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("another sweepd is writing this file"), std::string::npos)
        << e.what();
  }
}

TEST_F(StoreTest, DifferentGridRefusesToResume) {
  { SweepStore::open(path_, info_, runs_); }
  info_.fingerprint = "grid-2";
  try {
    SweepStore::open(path_, info_, runs_);
    FAIL() << "resumed into a file of another grid";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("different grid"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, ForeignAndCorruptFilesAreUserErrorsAndStayUntouched) {
  const std::string foreign = dir_ + "/foreign.h5";
  H5Fclose(H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  const auto size = std::filesystem::file_size(foreign);
  EXPECT_THROW(SweepStore::open(foreign, info_, runs_), UserError);
  EXPECT_THROW(SweepStore::open_read_only(foreign), UserError);
  EXPECT_EQ(std::filesystem::file_size(foreign), size);

  const std::string corrupt = dir_ + "/corrupt.h5";
  std::ofstream(corrupt) << "this is not HDF5 at all";
  EXPECT_THROW(SweepStore::open(corrupt, info_, runs_), UserError);
  EXPECT_THROW(SweepStore::open_read_only(corrupt), UserError);
  EXPECT_EQ(std::filesystem::file_size(corrupt), 23u);
  EXPECT_THROW(SweepStore::open_read_only(dir_ + "/missing.h5"), UserError);
}

TEST_F(StoreTest, AttemptHistoryIsAppendedAndKeptAcrossReopening) {
  {
    SweepStore store = SweepStore::open(path_, info_, runs_);
    store.start_writing();
    AttemptRecord failed;
    failed.run = 2;
    failed.attempt = 1;
    failed.outcome = RunOutcome::kFailed;
    failed.start_step = 0;
    failed.end_step = 37;
    failed.reason = "rank 1 of the slot: out of memory";
    store.append_attempt(failed);
    RunProgress p;
    p.state = RunState::kPending;
    p.attempts = 1;
    store.set_progress(2, p);
  }
  {
    SweepStore store = SweepStore::open(path_, info_, runs_);  // resume
    EXPECT_FALSE(store.created());
    EXPECT_EQ(store.progress(2).attempts, 1);
    store.start_writing();
    AttemptRecord done;
    done.run = 2;
    done.attempt = 2;
    done.outcome = RunOutcome::kDone;
    done.start_step = 30;
    done.end_step = 100;
    store.append_attempt(done);
  }
  const SweepStore read = SweepStore::open_read_only(path_);
  const std::vector<AttemptRecord> history = read.attempts();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].outcome, RunOutcome::kFailed);
  EXPECT_EQ(history[0].end_step, 37);
  EXPECT_EQ(history[0].reason, "rank 1 of the slot: out of memory");
  EXPECT_FALSE(history[0].ended.empty());
  EXPECT_EQ(history[1].outcome, RunOutcome::kDone);
  EXPECT_EQ(history[1].start_step, 30);
}

TEST_F(StoreTest, CurvesCutBackWhileWritingStayReadable) {
  // A retry within one invocation cuts a run's curves back to its checkpoint
  // during SWMR writing.
  {
    SweepStore store = SweepStore::open(path_, info_, runs_);
    store.start_writing();
    for (int64_t step = 10; step <= 50; step += 10)
      store.append_train(0, {step, step * 100, 1e9, 3.0, 1e-3, 0.5, 1.0});
    store.append_eval(0, {50, 5000, 1e9, 3.0, 1.0});
    store.flush();
    store.reset_curves(0, {{10, 1000, 1e9, 3.0, 1e-3, 0.5, 1.0}}, {});
    store.append_train(0, {20, 2000, 1e9, 2.9, 1e-3, 0.5, 2.0});
    store.flush();
  }
  const SweepStore read = SweepStore::open_read_only(path_);
  const auto train = read.train_curve(0);
  ASSERT_EQ(train.size(), 2u);
  EXPECT_EQ(train[1].step, 20);
  EXPECT_DOUBLE_EQ(train[1].loss, 2.9);
  EXPECT_TRUE(read.eval_curve(0).empty());
}

TEST_F(StoreTest, DamagedFileIsRefusedAtOnceAsAUserError) {
  // Bytes flipped at random past the superblock (seeded: SWEEP_TEST_SEED
  // replays a failure). Metadata and rows are checksummed, and a file that no
  // writer holds is read as a plain file, so this is an error in
  // milliseconds, never HDF5's SWMR retry loop (which slept for minutes).
  {
    SweepStore store = SweepStore::open(path_, info_, runs_);
    store.start_writing();
    for (int64_t run = 0; run < 3; ++run)
      for (int64_t step = 1; step <= 300; ++step)
        store.append_train(run, {step, step * 100, 1e9, 3.0, 1e-3, 0.5, 1.0});
  }
  std::mt19937 random(testing_helpers::test_seed());
  const auto size = std::filesystem::file_size(path_);
  {
    std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
    for (int i = 0; i < 200; ++i) {
      file.seekp(std::streamoff(std::uniform_int_distribution<size_t>(64, size - 1)(random)));
      file.put(char(std::uniform_int_distribution<int>(0, 255)(random)));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    const SweepStore read = SweepStore::open_read_only(path_);
    FAIL() << "a damaged file was read";
  } catch (const UserError& e) {
    std::printf("refused: %s\n", e.what());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0);
}

}  // namespace
}  // namespace sweep
