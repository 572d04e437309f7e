// The sweepd binary as a user meets it: exit codes, one-line errors, --json.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_run.h"

namespace {

using Result = sweep::testing_helpers::CliResult;
using sweep::testing_helpers::write_temp;

Result run(const std::string& args, bool with_stderr = true) {
  return sweep::testing_helpers::run_sweepd(args, with_stderr);
}

std::string job(const char* name) { return std::string(SWEEP_SOURCE_DIR) + "/jobs/" + name; }

TEST(Cli, VersionAndHelpExitZero) {
  EXPECT_EQ(run("--version").exit_code, 0);
  const Result help = run("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("plan"), std::string::npos);
  EXPECT_NE(help.out.find("flops"), std::string::npos);
  EXPECT_EQ(run("plan --help").exit_code, 0);
}

TEST(Cli, UnknownFlagIsAUsageErrorWithExitTwo) {
  EXPECT_EQ(run("plan --no-such-flag x.toml").exit_code, 2);
  EXPECT_EQ(run("").exit_code, 2);
}

TEST(Cli, BadJobFileGivesOneLocatedLineAndExitTwo) {
  const std::string path =
      write_temp("bad.toml",
                 "[data]\ncorpus = \"x\"\nseq_len = 0\n[grid]\nbudgets = [1e12]\nparams = [1e4]\n");
  const Result r = run("plan " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out,
            path + ":3:11: data.seq_len = 0: out of range; allowed: an integer in [8, 65536]\n");
}

TEST(Cli, MissingJobFileExitsTwo) {
  const Result r = run("plan /nonexistent/job.toml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("/nonexistent/job.toml: cannot read job file"), std::string::npos) << r.out;
}

TEST(Cli, CheckRequiresTheCorpus) {
  const std::string path = write_temp(
      "nocorpus.toml",
      "[data]\ncorpus = \"/nonexistent/*.txt\"\n[grid]\nbudgets = [1e12]\nparams = [1e4]\n");
  const Result r = run("check " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find(":2:10: data.corpus = \"/nonexistent/*.txt\": no file matches"),
            std::string::npos)
      << r.out;
}

TEST(Cli, PlanJsonListsEveryChinchillaRun) {
  const Result r =
      run("plan --json --throughput 1e16 " + job("chinchilla.toml"), /*with_stderr=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto plan = nlohmann::json::parse(r.out);
  ASSERT_EQ(plan["runs"].size(), 81u);
  for (const auto& run : plan["runs"]) {
    EXPECT_NEAR(run["params_total"].get<double>() / run["target_params"].get<double>(), 1.0, 0.15);
  }
  EXPECT_EQ(plan["flop_convention"], "chinchilla");
  EXPECT_GT(plan["totals"]["est_seconds"].get<double>(), 0);
}

TEST(Cli, PlanTableHasTotals) {
  const Result r = run("plan --throughput 5e10 " + job("quickstart.toml"), false);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("total: 22 runs"), std::string::npos) << r.out;
}

TEST(Cli, FlopsJsonMatchesGpt2Small) {
  const Result r = run(
      "flops --n-layer 12 --d-model 768 --n-head 12 --vocab 50257 --seq-len 1024 --json", false);
  ASSERT_EQ(r.exit_code, 0);
  const auto flops = nlohmann::json::parse(r.out);
  EXPECT_EQ(flops["params"]["total"], 124439808);
  EXPECT_DOUBLE_EQ(flops["training_flops_per_token"]["6N"].get<double>(), 6.0 * 124439808);
}

TEST(Cli, FlopsRejectsHeadsThatDoNotDivideWidth) {
  const Result r = run("flops --n-layer 2 --d-model 100 --n-head 3 --vocab 256 --seq-len 64");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("must be a multiple of n_head"), std::string::npos) << r.out;
}

}  // namespace
