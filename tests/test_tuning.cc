// [tune] end to end in one process: tune runs train first, the grid trains
// with the candidate of the lowest mean loss (checked against the file's own
// tune losses and the lr the training curves show), the choice survives a
// kill, and the fit leaves the tune runs out and reports them.

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "tuning_job.h"

namespace sweep {
namespace {

class TuningTest : public SweepFixture {
 protected:
  void SetUp() override {
    SweepFixture::SetUp();
    for (const auto& [from, to] : kTuneEdits) replace_in_job(from, to);
  }
  // Every grid run trained with the candidate `recipe`: stored lr and recipe,
  // and the peak its curve reached.
  void expect_grid_trained_with(const SweepStore& store, int recipe) const {
    int grid = 0;
    for (const RunInfo& run : store.runs()) {
      if (run.role != "grid") continue;
      ++grid;
      const double peak = kTuneLr[recipe] * 16.0 / double(run.d_model);
      EXPECT_EQ(run.recipe, recipe) << run.run_id;
      EXPECT_NEAR(run.lr, peak, 1e-12 * peak) << run.run_id;
      double highest = 0;
      for (const TrainRecord& r : store.train_curve(run.index)) highest = std::max(highest, r.lr);
      EXPECT_LE(highest, peak * (1 + 1e-9)) << run.run_id;
      EXPECT_GE(highest, 0.95 * peak) << run.run_id << ": trained at another rate";
    }
    EXPECT_EQ(grid, 6);
  }
};

TEST_F(TuningTest, TheGridTrainsWithTheCandidateOfTheLowestMeanLoss) {
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  SweepStore store = SweepStore::open_read_only(output_);
  ASSERT_EQ(store.runs().size(), 12u) << "3 candidates x 2 sizes, then the 6 grid runs";
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(store.runs()[i].role, "tune") << store.runs()[i].run_id;
    EXPECT_EQ(store.progress(int64_t(i)).state, RunState::kDone) << store.runs()[i].run_id;
  }
  const int best = best_candidate(store);
  ASSERT_GE(best, 0);
  expect_grid_trained_with(store, best);
  EXPECT_NE(log().find("tuned: lr "), std::string::npos) << log();

  // The fit: grid runs only, and the tuning beside them.
  const std::string out = dir_ + "/fit.json";
  ASSERT_EQ(std::system((std::string(SWEEPD_BINARY) + " fit " + output_ + " --json > " + out +
                         " 2>/dev/null")
                            .c_str()),
            0);
  std::ifstream in(out);
  const nlohmann::json fit = nlohmann::json::parse(in);
  EXPECT_EQ(fit["runs"].size(), 6u);
  EXPECT_EQ(fit["excluded"].size(), 0u) << "tune runs are not excluded grid runs";
  ASSERT_EQ(fit["tuning"].size(), 1u);
  const nlohmann::json& tuning = fit["tuning"][0];
  EXPECT_TRUE(tuning["used_by_grid"].get<bool>());
  ASSERT_EQ(tuning["candidates"].size(), 3u);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(tuning["candidates"][c]["chosen"].get<bool>(), c == best);
  EXPECT_EQ(tuning["params"].size(), 2u);
}

TEST_F(TuningTest, AKillAfterTheChoiceResumesWithTheSameRecipe) {
  replace_in_job("budgets = [3e9, 1e10]", "budgets = [3e9, 3e10]");  // a longer grid
  const pid_t pid = start({job_});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (log().find("tuned: lr ") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill_all(pid);
  ASSERT_NE(log().find("tuned: lr "), std::string::npos) << log();
  int chosen = -1;
  {
    SweepStore store = SweepStore::open_read_only(output_);
    for (const RunInfo& run : store.runs())
      if (run.role == "grid" && run.recipe >= 0) chosen = int(run.recipe);
  }
  ASSERT_GE(chosen, 0) << "a grid run started before the kill";

  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  const std::string text = log();
  EXPECT_EQ(text.find("tuned: lr "), text.rfind("tuned: lr ")) << "chosen once: " << text;
  SweepStore store = SweepStore::open_read_only(output_);
  EXPECT_EQ(best_candidate(store), chosen);
  expect_grid_trained_with(store, chosen);
}

}  // namespace
}  // namespace sweep
