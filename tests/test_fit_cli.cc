// The fit stage as a user meets it: `sweepd fit`, `predict`, `capacity` and
// `report` on a CSV table from elsewhere; exit codes and one-line errors.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "cli_run.h"

namespace {

using Result = sweep::testing_helpers::CliResult;
using sweep::testing_helpers::write_temp;

Result run(const std::string& args, bool with_stderr = true) {
  return sweep::testing_helpers::run_sweepd(args, with_stderr);
}

// A table as another framework would export it: 4 IsoFLOP budgets × 6 sizes
// from Chinchilla's approach-3 law with 0.5% noise, tokens = C / 6N.
std::string chinchilla_table() {
  const double E = 1.69337, A = 406.401, B = 410.723, alpha = 0.33917, beta = 0.28491;
  const double G = std::pow(alpha * A / (beta * B), 1 / (alpha + beta));
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0, 0.005);
  std::ostringstream table;
  table << "params,flops,loss\n";
  for (double c : {1e18, 3e18, 1e19, 3e19}) {
    const double n_opt = G * std::pow(c / 6, beta / (alpha + beta));
    for (int i = 0; i < 6; ++i) {
      const double n = n_opt * std::pow(2.0, i - 2.5), d = c / (6 * n);
      table << n << "," << c << ","
            << (E + A / std::pow(n, alpha) + B / std::pow(d, beta)) * std::exp(noise(rng)) << "\n";
    }
  }
  return write_temp("chinchilla.csv", table.str());
}

TEST(FitCli, FitsATableAndPrintsEveryApproachItCan) {
  const Result r = run("fit " + chinchilla_table() + " --bootstrap 100", false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // The report's own sections, as text.
  EXPECT_NE(r.out.find("Compute-optimal scaling"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2: IsoFLOP profiles"), std::string::npos);
  EXPECT_NE(r.out.find("3: parametric L(N, D)"), std::string::npos);
  EXPECT_NE(r.out.find("IsoFLOP profiles (approach 2)"), std::string::npos);
  EXPECT_NE(r.out.find("Kaplan-style laws on the compute frontier"), std::string::npos);
  EXPECT_NE(r.out.find("the best start ended with CONVERGENCE"), std::string::npos);
  EXPECT_NE(r.out.find("Laws fitted to the budgets 1e18, 3e18, 1e19 FLOPs predict the held-out "
                       "budget 3e19"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("approach 1 not fitted: needs training curves"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("a1 not fitted"), std::string::npos) << "said once, not twice";
}

TEST(FitCli, WithoutBootstrapTheBacktestSaysNoIntervalInTextAndJson) {
  const Result text = run("fit " + chinchilla_table() + " --bootstrap 0 --approaches 2", false);
  ASSERT_EQ(text.exit_code, 0) << text.out;
  EXPECT_NE(text.out.find("no interval"), std::string::npos) << text.out;
  const Result json =
      run("fit " + chinchilla_table() + " --bootstrap 0 --approaches 2 --json", false);
  ASSERT_EQ(json.exit_code, 0) << json.out;
  const nlohmann::json j = nlohmann::json::parse(json.out);
  ASSERT_FALSE(j["backtest"]["rows"].empty());
  for (const auto& row : j["backtest"]["rows"]) {
    EXPECT_TRUE(row["params_covered"].is_null()) << row.dump();
    EXPECT_EQ(row["params_coverage"], "no interval");
  }
}

TEST(FitCli, JsonHasTheLawWithIntervals) {
  const Result r =
      run("fit " + chinchilla_table() + " --bootstrap 100 --approaches 2,3 --target 1e21 --json",
          false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& q : j["quantities"]) {
    if (q["key"] != "a3.a") continue;
    found = true;
    EXPECT_NEAR(q["value"].get<double>(), 0.4566, 0.05);
    EXPECT_LE(q["lo"].get<double>(), q["value"].get<double>());
    EXPECT_GE(q["hi"].get<double>(), q["value"].get<double>());
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(j["runs"].size(), 24u);
  EXPECT_EQ(j["budgets"].size(), 4u);
  EXPECT_FALSE(j["projections"].empty());
}

TEST(FitCli, BadTableIsOneLocatedLineAndExitTwo) {
  const std::string path = write_temp("bad.csv", "params,tokens,loss\n1e6,2e7,3.1\n1e6,x,3\n");
  const Result r = run("fit " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("bad.csv:3:5: tokens = 'x': not a number"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

TEST(FitCli, OneBudgetIsAClearMessageNotANumber) {
  const std::string path = write_temp(
      "one.csv", "params,tokens,loss\n1e6,1.6e8,3.1\n2e6,8e7,3.0\n4e6,4e7,3.05\n8e6,2e7,3.2\n");
  const Result r = run("fit " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("no scaling law can be fitted to these 4 runs in 1 budget"),
            std::string::npos)
      << r.out;
}

TEST(FitCli, CapacityOfGpt3OnAThousandA100s) {
  const Result r =
      run("capacity --params 175e9 --tokens 300e9 --gpu a100 --gpus 1000 --mfu 0.4 --json", false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["flops"].get<double>(), 3.15e23, 1e20);
  EXPECT_NEAR(j["days"].get<double>(), 29.2, 0.05);
  const Result inverse =
      run("capacity --days 29.21 --gpu a100 --gpus 1000 --mfu 0.4 --json", false);
  EXPECT_NEAR(nlohmann::json::parse(inverse.out)["flops"].get<double>(), 3.15e23, 1e21);
  EXPECT_EQ(run("capacity --flops 1e20 --gpu tpu").exit_code, 2);
  EXPECT_EQ(run("capacity --gpu h100").exit_code, 2);
}

TEST(FitCli, PredictGivesTheInferenceAwareSaving) {
  const Result r =
      run("predict " + chinchilla_table() +
              " --bootstrap 50 --compute 1e22 --target-loss 2.3 --inference-tokens 1e13 --json",
          false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const auto& plan = j["inference_aware"];
  EXPECT_GT(plan["saving"]["value"].get<double>(), 0);
  EXPECT_LT(plan["inference_aware"]["params"].get<double>(),
            plan["chinchilla"]["params"].get<double>());
  EXPECT_FALSE(j["projections"].empty());
  EXPECT_EQ(run("predict " + chinchilla_table() + " --target-loss 1.5").exit_code, 2)
      << "below the irreducible loss";
}

TEST(FitCli, ReportWritesHtmlMarkdownAndJson) {
  const std::string base = testing::TempDir() + "cli-report";
  const Result r = run("report " + chinchilla_table() + " --bootstrap 50 -o " + base);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* ext : {".html", ".md", ".json"})
    EXPECT_TRUE(std::filesystem::exists(base + ext)) << base << ext;
  // N_opt(C) carries each approach's bootstrap band.
  std::ifstream html(base + ".html");
  const std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("approach 2: 90% band"), std::string::npos);
  EXPECT_NE(page.find("approach 3: 90% band"), std::string::npos);
}

// Two families in one table with a variant column: gpt from Chinchilla's law,
// rnn with steeper exponents and a higher irreducible loss, whose frontier
// gpt overtakes near 1e19 FLOPs.
std::string two_family_table() {
  struct Law {
    const char* name;
    double E, A, B, alpha, beta;
  };
  const Law laws[] = {{"gpt", 1.69, 406.4, 410.7, 0.34, 0.28},
                      {"rnn", 2.503, 1500, 2000, 0.45, 0.40}};
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0, 0.003);
  std::ostringstream table;
  table.precision(10);
  table << "run,variant,params,flops,loss\n";
  for (const Law& l : laws)
    for (double c : {1e18, 3e18, 1e19, 3e19, 1e20}) {
      const double G = std::pow(l.alpha * l.A / (l.beta * l.B), 1 / (l.alpha + l.beta));
      const double n_opt = G * std::pow(c / 6, l.beta / (l.alpha + l.beta));
      for (int i = 0; i < 7; ++i) {
        const double n = n_opt * std::pow(2.0, i - 3), d = c / (6 * n);
        table << l.name << i << c << "," << l.name << "," << n << "," << c << ","
              << (l.E + l.A / std::pow(n, l.alpha) + l.B / std::pow(d, l.beta)) *
                     std::exp(noise(rng))
              << "\n";
      }
    }
  return write_temp("two_families.csv", table.str());
}

TEST(FitCli, SeveralVariantsAreFittedSeparatelyThenCompared) {
  const Result json = run("fit " + two_family_table() + " --bootstrap 40 --json", false);
  ASSERT_EQ(json.exit_code, 0) << json.out;
  const nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["variant_order"], nlohmann::json({"gpt", "rnn"}));
  for (const char* v : {"gpt", "rnn"}) {
    ASSERT_TRUE(j["variants"].contains(v)) << v;
    EXPECT_EQ(j["variants"][v]["runs"].size(), 35u) << "each variant fitted on its own runs";
    EXPECT_FALSE(j["variants"][v]["quantities"].empty());
  }
  const auto& comparison = j["comparison"];
  EXPECT_EQ(comparison["frontier"], "approach 3");
  ASSERT_EQ(comparison["pairs"].size(), 1u);
  const auto& pair = comparison["pairs"][0];
  EXPECT_EQ(pair["a"], "gpt");
  EXPECT_EQ(pair["b"], "rnn");
  ASSERT_EQ(pair["crossovers"].size(), 1u) << pair.dump();
  const auto& crossover = pair["crossovers"][0];
  EXPECT_NEAR(std::log10(crossover["compute"]["value"].get<double>()), 19, 0.1);
  EXPECT_TRUE(crossover["inside_measured"].get<bool>());
  EXPECT_EQ(crossover["better_above"], "gpt");
  EXPECT_EQ(pair["multiplier"].size(), 7u) << "5 budgets, 10× and 100× the largest";
  EXPECT_GT(pair["multiplier"][0]["multiplier"]["value"].get<double>(), 1) << "rnn ahead at 1e18";

  const Result text = run("fit " + two_family_table() + " --bootstrap 40", false);
  ASSERT_EQ(text.exit_code, 0) << text.out;
  for (const char* section : {"gpt: Compute-optimal scaling", "rnn: Compute-optimal scaling",
                              "Comparison of variants", "rnn against gpt",
                              "gpt overtakes rnn at C = ", "inside the measured range"})
    EXPECT_NE(text.out.find(section), std::string::npos) << section << "\n" << text.out;
}

TEST(FitCli, PredictRefusesSeveralVariantsNamingThem) {
  const Result r = run("predict " + two_family_table() + " --compute 1e21 --bootstrap 0");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("holds 2 variants (gpt and rnn)"), std::string::npos) << r.out;
  // --variant picks one; its numbers are the ones the comparison fitted.
  const Result predicted =
      run("predict " + two_family_table() + " --compute 1e21 --bootstrap 0 --variant rnn");
  EXPECT_EQ(predicted.exit_code, 0) << predicted.out;
  const Result one = run("fit " + two_family_table() + " --bootstrap 0 --variant rnn --json", false);
  ASSERT_EQ(one.exit_code, 0) << one.out;
  const Result all = run("fit " + two_family_table() + " --bootstrap 0 --json", false);
  ASSERT_EQ(all.exit_code, 0) << all.out;
  const nlohmann::json p = nlohmann::json::parse(one.out), f = nlohmann::json::parse(all.out);
  EXPECT_DOUBLE_EQ(p["laws"]["approach3"]["alpha"].get<double>(),
                   f["variants"]["rnn"]["laws"]["approach3"]["alpha"].get<double>());
  const Result unknown = run("predict " + two_family_table() + " --compute 1e21 --variant lstm");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.out.find("--variant lstm: "), std::string::npos) << unknown.out;
  EXPECT_NE(unknown.out.find("holds the variants gpt and rnn"), std::string::npos) << unknown.out;
}

TEST(FitCli, ReportOfSeveralVariantsDrawsTheComparison) {
  const std::string base = testing::TempDir() + "cli-variants-report";
  const Result r = run("report " + two_family_table() + " --bootstrap 20 -o " + base);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* file : {"-comparison-frontiers.svg", "-comparison-multiplier.svg",
                           "-gpt-profiles.svg", "-rnn-profiles.svg"})
    EXPECT_TRUE(std::filesystem::exists(base + file)) << base << file;
  std::ifstream html(base + ".html");
  const std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("gpt overtakes rnn at 9.9"), std::string::npos) << "the crossover marked";
  EXPECT_NE(page.find("rnn: 90% band"), std::string::npos);
  EXPECT_NE(page.find("id=\"plot-gpt-profiles\""), std::string::npos);
}

}  // namespace
