// Predict, then verify: `sweepd predict FILE --compute C --emit-job NEW.toml`
// writes a job that brackets the predicted N_opt at C and carries the
// prediction; the sweep of that job stores it in its file before training,
// and its report compares it with the outcome. Also: [prediction] in the job
// reader, and several files merged into one fit.
//
// The source sweeps are written, not trained: runs of a known law L(N, D)
// stored as done, so that the fit and the prediction are quick and known.
// Only the emitted job (5 tiny runs at one budget) is trained.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "spec/grid.h"
#include "spec/job_spec.h"
#include "storage/store.h"
#include "cli_run.h"
#include "test_helpers.h"

namespace sweep {
namespace {

// L(N, D) = E + A/N^α + B/D^β with α = β = 0.35: N_opt = G·(C/6)^0.5 and
// G = (A/B)^(1/0.7) = 0.283, so N_opt(3e10 FLOPs) = 20K, a size the tiny
// models of the job below have shapes around.
constexpr double kE = 1.5, kA = 165, kB = 400, kExponent = 0.35;
constexpr double kVerifyCompute = 3e10;

double law_loss(double params, double tokens) {
  return kE + kA / std::pow(params, kExponent) + kB / std::pow(tokens, kExponent);
}
double law_optimum(double compute) {
  return std::pow(kA / kB, 1 / (2 * kExponent)) * std::sqrt(compute / 6);
}

using Result = testing_helpers::CliResult;

// sweepd run in `dir` (the emitted job's output, runs/<stem>.h5, is relative).
Result run_in(const std::string& dir, const std::string& args, bool with_stderr = true) {
  return testing_helpers::run_sweepd_in(dir, args, with_stderr);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class PredictVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "predict_verify_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    testing_helpers::write_file(dir_ + "/corpus.txt",
                                testing_helpers::english_like_text(300000, 5));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string job_text(const std::string& name, const std::string& convention) const {
    return "# A study written, not trained (tests/test_predict_verify.cc).\n"
           "[sweep]\nname = \"" +
           name + "\"\noutput = \"" + dir_ + "/" + name +
           ".h5\"\n"
           "checkpoint_interval = 0.3\n\n"
           "[data]\n# kept with the section\ncorpus = \"" +
           dir_ +
           "/corpus.txt\"\n"
           "seq_len = 32\nvalidation_fraction = 0.05\n\n"
           "[grid]\nflop_convention = \"" +
           convention +
           "\"\n"
           "# three budgets\nbudgets = [3e9, 6e9, 1.2e10]\n"
           "tokens_per_param = { min = 2, max = 50, count = 5 }\nmin_steps = 10\n\n"
           "[model]\naspect_ratio = 16   # tiny models\nhead_dim = 8\n\n"
           "[train]\nbatch_tokens = 512\nlr = 3e-3\neval_interval = 100\n"
           "eval_tokens = 1024\nlog_interval = 10\n\n"
           "[resources]\nthreads_per_rank = 1\n\n"
           "[fit]\napproaches = [2, 3]\nbootstrap = 50\nholdout_budgets = 1\n";
  }

  // A sweep file whose runs are done with the law's losses (and a little
  // deterministic noise): 3 budgets x 5 sizes around each budget's optimum.
  std::string write_sweep(const std::string& name, const std::string& convention = "6N") const {
    const std::string path = dir_ + "/" + name + ".h5";
    SweepInfo info;
    info.sweep_name = name;
    info.job_path = dir_ + "/" + name + ".toml";
    info.job_text = job_text(name, convention);
    info.sweepd_version = "test";
    info.flop_convention = convention;
    info.fingerprint = "written by the test";
    std::vector<RunInfo> runs;
    std::vector<double> losses;
    for (double budget : {3e9, 6e9, 1.2e10}) {
      for (int i = 0; i < 5; ++i) {
        RunInfo r;
        r.index = int64_t(runs.size());
        r.budget = budget;
        r.params_total = int64_t(law_optimum(budget) * std::pow(2.0, i - 2));
        r.tokens = int64_t(budget / (6.0 * double(r.params_total)));
        r.flops = 6.0 * double(r.params_total) * double(r.tokens);
        r.target_params = double(r.params_total);
        r.run_id =
            "C" + std::to_string(int(budget / 1e9)) + "e9-N" + std::to_string(r.params_total);
        runs.push_back(r);
        losses.push_back(law_loss(double(r.params_total), double(r.tokens)) *
                         (1 + 0.003 * std::sin(7.3 * double(r.index))));
      }
    }
    SweepStore store = SweepStore::open(path, info, runs);
    for (const RunInfo& r : runs) {
      RunProgress p;
      p.state = RunState::kDone;
      p.steps_done = 100;
      p.final_eval_loss = p.final_train_loss = losses[size_t(r.index)];
      p.attempts = 1;
      store.set_progress(r.index, p);
    }
    store.flush();
    return path;
  }

  std::string dir_;
};

// ---------------------------------------------------------------- [prediction]

fit::Prediction sample_prediction() {
  fit::Prediction p;
  p.source = "runs/a \"quoted\" study.h5";
  p.date = "2025-06-01T12:00:00Z";
  p.compute = 1e12;
  p.approach = 3;
  p.confidence = 0.9;
  p.bootstrap = 200;
  p.envelope = "all";
  p.approaches = {2, 3};
  p.optima.push_back({2, 31234.5, 25000, 40000, 5.3e6, 4e6, 7e6, 1.95, 1.9, 2.0});
  p.optima.push_back({3, 28000, NAN, NAN, 5.9e6, NAN, NAN, NAN, NAN, NAN});
  return p;
}

const char* kMinimalJob =
    "[data]\ncorpus = \"x.txt\"\n[grid]\nbudgets = [1e11, 1e12]\nparams = [1e4, 3e4]\n";

TEST(PredictionSpec, TheWrittenTableReadsBackAsItWasWritten) {
  const fit::Prediction p = sample_prediction();
  const JobSpec job = parse_job_text(std::string(kMinimalJob) + prediction_toml(p), "j.toml");
  ASSERT_TRUE(job.prediction.has_value());
  const fit::Prediction& q = *job.prediction;
  EXPECT_EQ(q.source, p.source);
  EXPECT_EQ(q.date, p.date);
  EXPECT_EQ(q.compute, p.compute);
  EXPECT_EQ(q.approach, 3);
  EXPECT_EQ(q.confidence, 0.9);
  EXPECT_EQ(q.bootstrap, 200);
  EXPECT_EQ(q.envelope, "all");
  EXPECT_EQ(q.approaches, p.approaches);
  ASSERT_EQ(q.optima.size(), 2u);
  EXPECT_EQ(q.optima[0].params, 31234.5);
  EXPECT_EQ(q.optima[0].params_lo, 25000);
  EXPECT_EQ(q.optima[0].loss_hi, 2.0);
  EXPECT_TRUE(std::isnan(q.optima[1].params_lo)) << "no interval stays no interval";
  EXPECT_TRUE(std::isnan(q.optima[1].loss)) << "no loss stays no loss";
}

std::string prediction_error(const std::string& from, const std::string& to) {
  std::string text = std::string(kMinimalJob) + prediction_toml(sample_prediction());
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  try {
    parse_job_text(text, "j.toml");
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PredictionSpec, BadKeysAreOneErrorAtTheirSource) {
  EXPECT_EQ(prediction_error("bootstrap = 200\n", "bootstrap = 200\nn_opt = 3\n"),
            "j.toml:13:1: prediction.n_opt: unknown key; allowed: approach, approaches, "
            "bootstrap, compute, confidence, date, envelope, optima, source")
      << "line 13: the unknown key, 8 lines after [prediction]";
  EXPECT_NE(prediction_error("approach = 2\nparams", "approach = 2\nparam = 1\nparams")
                .find("j.toml:18:1: prediction.optima.param: unknown key"),
            std::string::npos)
      << prediction_error("approach = 2\nparams", "approach = 2\nparam = 1\nparams");
  EXPECT_NE(prediction_error("compute = 1e12", "compute = 3e12")
                .find("j.toml:9:11: prediction.compute = 3e12: is not one of grid.budgets "
                      "(1e11, 1e12)"),
            std::string::npos)
      << prediction_error("compute = 1e12", "compute = 3e12");
  EXPECT_NE(prediction_error("date = \"2025-06-01T12:00:00Z\"", "date = \"June\"")
                .find("prediction.date = \"June\": must be a UTC time"),
            std::string::npos);
  EXPECT_NE(prediction_error("approach = 3   #", "approach = 1   #")
                .find("prediction.approach = 1: has no [[prediction.optima]] entry"),
            std::string::npos);
  EXPECT_NE(prediction_error("params_interval = [2.5e4, 4e4]", "params_interval = [4e4, 2e4]")
                .find("prediction.optima.params_interval = [40000, 20000]: lo must be <= hi"),
            std::string::npos)
      << prediction_error("params_interval = [2.5e4, 4e4]", "params_interval = [4e4, 2e4]");
  EXPECT_NE(prediction_error("source = ", "not_source = ").find("prediction.source: missing"),
            std::string::npos);
}

TEST(PredictionSpec, BadKeyIsExitTwoFromTheCommandLine) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "bad_prediction.toml";
  const std::string text = kMinimalJob + prediction_toml(sample_prediction());
  std::ofstream(path) << text << "extra = 1\n";  // in the last [[prediction.optima]]
  const Result r = run_in(dir, "plan " + path);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  const std::string line = std::to_string(std::count(text.begin(), text.end(), '\n') + 1);
  EXPECT_NE(r.out.find(path + ":" + line + ":1: prediction.optima.extra: unknown key"),
            std::string::npos)
      << r.out;
}

TEST_F(PredictVerifyTest, StoreKeepsThePredictionItWasCreatedWith) {
  SweepInfo info;
  info.sweep_name = "p";
  info.job_text = "x";
  info.flop_convention = "6N";
  info.fingerprint = "f";
  PredictionRecord record;
  record.source = "runs/a.h5";
  record.date = "2025-06-01T12:00:00Z";
  record.envelope = "ends";
  record.compute = 1e12;
  record.confidence = 0.8;
  record.approach = 2;
  record.bootstrap = 0;
  record.approaches = {1, 2};
  record.optima.push_back({2, 3e4, NAN, NAN, 5e6, NAN, NAN, 1.9, NAN, NAN});
  info.prediction = record;
  RunInfo run;
  run.run_id = "r";
  { SweepStore store = SweepStore::open(dir_ + "/p.h5", info, {run}); }
  const SweepStore store = SweepStore::open_read_only(dir_ + "/p.h5");
  ASSERT_TRUE(store.info().prediction.has_value());
  const PredictionRecord& r = *store.info().prediction;
  EXPECT_EQ(r.source, "runs/a.h5");
  EXPECT_EQ(r.date, record.date);
  EXPECT_EQ(r.envelope, "ends");
  EXPECT_EQ(r.compute, 1e12);
  EXPECT_EQ(r.confidence, 0.8);
  EXPECT_EQ(r.approach, 2);
  EXPECT_EQ(r.approaches, record.approaches);
  ASSERT_EQ(r.optima.size(), 1u);
  EXPECT_EQ(r.optima[0].params, 3e4);
  EXPECT_TRUE(std::isnan(r.optima[0].params_lo));
  EXPECT_EQ(r.optima[0].loss, 1.9);

  info.prediction.reset();
  { SweepStore plain = SweepStore::open(dir_ + "/q.h5", info, {run}); }
  EXPECT_FALSE(SweepStore::open_read_only(dir_ + "/q.h5").info().prediction.has_value());
}

// ---------------------------------------------------------------- --emit-job

TEST_F(PredictVerifyTest, EmittedJobParsesKeepsTheSourceJobAndBracketsThePrediction) {
  const std::string source = write_sweep("source");
  const Result r = run_in(
      dir_, "predict " + source + " --compute 3e10 --emit-job " + dir_ + "/verify.toml --json",
      /*with_stderr=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["emitted_job"]["approach"], 3) << out.dump(2);
  EXPECT_EQ(out["emitted_job"]["output"], "runs/verify.h5");

  const std::string text = read_text(dir_ + "/verify.toml");
  const JobSpec job = load_job_file(dir_ + "/verify.toml");
  EXPECT_EQ(job.sweep.name, "verify");
  EXPECT_EQ(job.sweep.output, "runs/verify.h5");
  EXPECT_EQ(job.grid.budgets, std::vector<double>{kVerifyCompute});
  EXPECT_EQ(job.train.batch_tokens, 512) << "[train] as it was";
  EXPECT_EQ(job.fit.approaches, (std::vector<int>{2, 3})) << "[fit] as it was";
  EXPECT_EQ(job.fit.holdout_budgets, 0) << "one budget has none to hold out";
  EXPECT_NE(text.find("# kept with the section\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aspect_ratio = 16   # tiny models\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("three budgets"), std::string::npos) << "the replaced key's comment goes";
  EXPECT_EQ(text.find("tokens_per_param"), std::string::npos) << text;

  ASSERT_TRUE(job.prediction.has_value());
  const fit::Prediction& p = *job.prediction;
  EXPECT_EQ(p.source, source);
  EXPECT_EQ(p.compute, kVerifyCompute);
  EXPECT_EQ(p.approach, 3);
  EXPECT_EQ(p.bootstrap, 50) << "the source job's [fit]";
  EXPECT_EQ(p.approaches, (std::vector<int>{2, 3}));
  ASSERT_EQ(p.optima.size(), 2u);
  const fit::PredictedOptimum& a3 = p.optima[1];
  EXPECT_EQ(a3.approach, 3);
  EXPECT_NEAR(a3.params / law_optimum(kVerifyCompute), 1, 0.1)
      << "approach 3 recovers the law: " << a3.params;
  EXPECT_TRUE(std::isfinite(a3.params_lo) && std::isfinite(a3.params_hi));
  EXPECT_TRUE(std::isfinite(a3.loss));

  // The grid: every run at C, sizes from below the interval to above it.
  const Grid grid = expand_grid(job);
  ASSERT_GE(grid.runs.size(), 3u);
  double smallest = INFINITY, largest = 0;
  for (const RunSpec& run : grid.runs) {
    EXPECT_EQ(run.budget, kVerifyCompute) << run.run_id;
    smallest = std::min(smallest, double(run.params.total));
    largest = std::max(largest, double(run.params.total));
  }
  EXPECT_LT(smallest, a3.params) << "the realized sizes bracket N_opt";
  EXPECT_GT(largest, a3.params);
  EXPECT_LE(job.grid.params.front().front(), std::min(a3.params_lo, a3.params / 2) * 1.01);
  EXPECT_GE(job.grid.params.front().back(), std::max(a3.params_hi, a3.params * 2) * 0.99);

  // The same job again would overwrite it: refused, the file untouched.
  const Result again =
      run_in(dir_, "predict " + source + " --compute 3e10 --emit-job " + dir_ + "/verify.toml");
  EXPECT_EQ(again.exit_code, 2) << again.out;
  EXPECT_NE(again.out.find("does not overwrite"), std::string::npos) << again.out;
  EXPECT_EQ(read_text(dir_ + "/verify.toml"), text);
}

TEST_F(PredictVerifyTest, EmitJobNeedsOneComputeAndASweepFile) {
  std::ofstream(dir_ + "/t.csv") << "params,tokens,loss\n1e4,1e6,3\n2e4,1e6,2.9\n4e4,1e6,2.95\n";
  Result r = run_in(dir_, "predict t.csv --compute 3e10 --emit-job v.toml");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("predict --emit-job needs a sweep file (its job settings); t.csv is a "
                       "table"),
            std::string::npos)
      << r.out;
  r = run_in(dir_, "predict t.csv --compute 3e10,1e11 --emit-job v.toml");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("give exactly one --compute C"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/v.toml"));
}

// The whole loop: predict, train the emitted job, compare.
TEST_F(PredictVerifyTest, SweepOfTheEmittedJobStoresThePredictionAndReportsTheOutcome) {
  const std::string source = write_sweep("source");
  Result r = run_in(dir_, "predict " + source + " --compute 3e10 --emit-job verify.toml");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const JobSpec job = load_job_file(dir_ + "/verify.toml");
  ASSERT_TRUE(job.prediction.has_value());

  r = run_in(dir_, "verify.toml");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string output = dir_ + "/runs/verify.h5";
  {
    const SweepStore store = SweepStore::open_read_only(output);
    ASSERT_TRUE(store.info().prediction.has_value());
    const PredictionRecord& stored = *store.info().prediction;
    EXPECT_EQ(stored.source, job.prediction->source);
    EXPECT_EQ(stored.date, job.prediction->date);
    EXPECT_EQ(stored.compute, kVerifyCompute);
    EXPECT_EQ(stored.approach, 3);
    ASSERT_EQ(stored.optima.size(), job.prediction->optima.size());
    for (size_t i = 0; i < stored.optima.size(); ++i) {
      EXPECT_EQ(stored.optima[i].params, job.prediction->optima[i].params);
      EXPECT_EQ(stored.optima[i].params_hi, job.prediction->optima[i].params_hi);
      EXPECT_EQ(stored.optima[i].loss, job.prediction->optima[i].loss);
    }
  }

  // One budget supports no law, yet the report shows the prediction against it.
  const std::string report_base = dir_ + "/verify-report";
  r = run_in(dir_, "report runs/verify.h5 -o " + report_base + " --bootstrap 0");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string markdown = read_text(report_base + ".md");
  EXPECT_NE(markdown.find("## Prediction vs outcome"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("Predicted on " + job.prediction->date + " from " + source),
            std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("3 (sizes centred on it)"), std::string::npos) << markdown;

  r = run_in(dir_, "fit runs/verify.h5 --json --bootstrap 0", /*with_stderr=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json fit = nlohmann::json::parse(r.out);
  ASSERT_EQ(fit["verification"].size(), 1u) << fit.dump(2);
  const nlohmann::json& v = fit["verification"][0];
  EXPECT_EQ(v["compute"], kVerifyCompute);
  EXPECT_EQ(v["observed"]["runs"], expand_grid(job).runs.size());
  ASSERT_TRUE(v["observed"]["best_run_loss"].is_number()) << v.dump(2);
  const nlohmann::json& row = v["rows"][1];
  EXPECT_EQ(row["approach"], 3);
  EXPECT_EQ(row["params"]["value"], job.prediction->optima[1].params);
  EXPECT_TRUE(row["best_run_params_error"].is_number());
  if (v["observed"]["params"].is_number()) {
    const double error =
        row["params"]["value"].get<double>() / v["observed"]["params"].get<double>() - 1;
    EXPECT_NEAR(row["params_error"].get<double>(), error, 1e-9);
    EXPECT_TRUE(row["params_inside"] == "covered" || row["params_inside"] == "not covered");
  }

  // The text shows the same section, numbers included.
  r = run_in(dir_, "fit runs/verify.h5 --bootstrap 0", /*with_stderr=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Prediction vs outcome"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Best run: " + v["observed"]["best_run"].get<std::string>()),
            std::string::npos)
      << r.out;
}

// ---------------------------------------------------------------- merging

TEST_F(PredictVerifyTest, MergedFilesFitTheUnionOfTheirRuns) {
  const std::string a = write_sweep("a"), b = write_sweep("b");
  // A table of a fourth budget, from the same law.
  std::ofstream table(dir_ + "/c.csv");
  table << "run,params,tokens,loss,budget\n";
  for (int i = 0; i < 3; ++i) {
    const double n = law_optimum(1.8e10) * std::pow(2.0, i - 1), d = 1.8e10 / (6 * n);
    table << "t" << i << "," << n << "," << d << "," << law_loss(n, d) << ",1.8e10\n";
  }
  table.close();
  const Result r = run_in(dir_, "fit " + a + " " + b + " c.csv --json --bootstrap 0 --approaches 2",
                          /*with_stderr=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json fit = nlohmann::json::parse(r.out);
  EXPECT_EQ(fit["source"], a + ", " + b + ", c.csv");
  ASSERT_EQ(fit["runs"].size(), 15u + 15u + 3u);
  int prefixed_a = 0, prefixed_b = 0, from_table = 0;
  for (const auto& run : fit["runs"]) {
    const std::string id = run["run"];
    prefixed_a += id.rfind("a/", 0) == 0;
    prefixed_b += id.rfind("b/", 0) == 0;
    from_table += id[0] == 't';
  }
  EXPECT_EQ(prefixed_a, 15) << "ids found in both sweeps get their file's stem";
  EXPECT_EQ(prefixed_b, 15);
  EXPECT_EQ(from_table, 3) << "ids found once stay as they are";
  EXPECT_EQ(fit["budgets"].size(), 4u) << "equal budgets pool into one profile";

  const Result text = run_in(dir_, "fit " + a + " " + b + " --bootstrap 0 --approaches 2",
                             /*with_stderr=*/false);
  ASSERT_EQ(text.exit_code, 0) << text.out;
  EXPECT_NE(text.out.find("Source: " + a + ", " + b + "."), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("merged from 2 files"), std::string::npos) << text.out;
}

TEST_F(PredictVerifyTest, MergeRefusesDifferentFlopConventionsNamingBothFiles) {
  const std::string a = write_sweep("a"), k = write_sweep("k", "kaplan");
  const Result r = run_in(dir_, "fit " + a + " " + k + " --bootstrap 0");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find(a + " counts FLOPs with the 6N convention and " + k +
                       " with kaplan; a merged fit needs one convention"),
            std::string::npos)
      << r.out;
  const Result twice = run_in(dir_, "fit " + a + " " + a + " --bootstrap 0");
  EXPECT_EQ(twice.exit_code, 2) << twice.out;
  EXPECT_NE(twice.out.find("given twice"), std::string::npos) << twice.out;
}

}  // namespace
}  // namespace sweep
