// The report: every file written, every plot drawn (or omitted with a reason),
// intervals shown as "value [lo, hi]", nothing written when gnuplot fails, and
// a page that a browser renders as more than a blank sheet.
//
// The Analysis here is built by hand from a known L(N, D) (Chinchilla's
// published law) so that the report is tested apart from the fits.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "common/error.h"
#include "fit/fit_json.h"
#include "fit/plots.h"
#include "fit/report.h"

namespace sweep::fit {
namespace {

constexpr double kFlopsPerParamToken = 6;

ParametricLaw chinchilla_law() { return {1.69, 406.4, 410.7, 0.34, 0.28}; }

// A deterministic ±0.2% wobble so the profiles are not exact parabolas.
double wobble(size_t i) { return 1 + 0.002 * std::sin(17.0 * double(i)); }

// Least squares of loss on (1, ln N, ln² N) by the normal equations.
Parabola parabola_through(const std::vector<double>& params, const std::vector<double>& loss) {
  double m[3][4] = {};
  for (size_t i = 0; i < params.size(); ++i) {
    const double u = std::log(params[i]);
    const double row[3] = {1, u, u * u};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) m[r][c] += row[r] * row[c];
      m[r][3] += row[r] * loss[i];
    }
  }
  for (int p = 0; p < 3; ++p)  // Gauss–Jordan; the matrix is well conditioned here
    for (int r = 0; r < 3; ++r) {
      if (r == p) continue;
      const double f = m[r][p] / m[p][p];
      for (int c = 0; c < 4; ++c) m[r][c] -= f * m[p][c];
    }
  return {m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]};
}

// 3 budgets × 5 sizes from N_opt/4 to 4·N_opt, with training curves unless
// `table` (a CSV table has none).
FitData synthetic_data(bool table) {
  const ParametricLaw law = chinchilla_law();
  FitData data;
  data.source = table ? "/runs/synthetic.csv" : "/runs/synthetic.h5";
  data.flop_convention = "6N";
  data.flops_per_param_token = kFlopsPerParamToken;
  data.budgets = {1e18, 1e19, 1e20};
  for (double budget : data.budgets) {
    const double n_opt = law.optimal_params(budget, kFlopsPerParamToken);
    for (double m : {0.25, 0.5, 1.0, 2.0, 4.0}) {
      Observation o;
      o.params = n_opt * m;
      o.tokens = budget / (kFlopsPerParamToken * o.params);
      o.flops = budget;
      o.budget = budget;
      o.loss = law.loss(o.params, o.tokens) * wobble(data.points.size());
      o.run_id = "C" + std::to_string(int(std::log10(budget))) + "-" + std::to_string(int(m * 4));
      if (!table) {
        LossCurve curve;
        curve.observation = int64_t(data.points.size());
        for (int s = 1; s <= 60; ++s) {
          const double tokens = o.tokens * std::pow(1e-3, 1 - s / 60.0);
          curve.flops.push_back(kFlopsPerParamToken * o.params * tokens);
          curve.loss.push_back(law.loss(o.params, tokens) * (1 + 0.01 * std::sin(3.0 * s)));
        }
        data.curves.push_back(curve);
      }
      data.points.push_back(o);
    }
  }
  data.excluded.push_back({"C20-32", "diverged at step 120: loss 9.1"});
  data.notes.push_back("budgets given by the sweep");
  return data;
}

Quantity quantity(const std::string& key, const std::string& label, double value, double spread,
                  bool bootstrap) {
  Quantity q;
  q.key = key;
  q.label = label;
  q.value = value;
  q.lo = bootstrap ? value * (1 - spread) : NAN;
  q.hi = bootstrap ? value * (1 + spread) : NAN;
  q.replicates = bootstrap ? 200 : 0;
  return q;
}

// Every law as the fits would give it on `data`. `full` adds approach 3, the
// backtest, targets and a bootstrap; without it the analysis is approach 2
// alone without intervals.
Analysis synthetic_analysis(const FitData& data, bool full) {
  const ParametricLaw law = chinchilla_law();
  const double k = kFlopsPerParamToken;
  Analysis analysis;
  analysis.flops_per_param_token = k;
  analysis.options.confidence = 0.9;
  analysis.options.bootstrap = full ? 200 : 0;
  analysis.replicates_done = full ? 200 : 0;
  LawSet& laws = analysis.laws;

  const auto profiles = data.profiles();
  std::vector<double> minima_flops, minima_params, minima_tokens, minima_loss;
  for (size_t b = 0; b < profiles.size(); ++b) {
    Profile p;
    p.budget = data.budgets[b];
    p.points = profiles[b];
    std::vector<double> n, l;
    for (int64_t i : p.points) {
      n.push_back(data.points[i].params);
      l.push_back(data.points[i].loss);
    }
    p.parabola = parabola_through(n, l);
    p.params_opt = p.parabola->vertex_params();
    p.tokens_opt = p.budget / (k * p.params_opt);
    p.loss_opt = p.parabola->vertex_loss();
    p.bracketed = p.params_opt > n.front() && p.params_opt < n.back();
    minima_flops.push_back(p.budget);
    minima_params.push_back(p.params_opt);
    minima_tokens.push_back(p.tokens_opt);
    minima_loss.push_back(p.loss_opt);
    laws.profiles.push_back(p);
  }
  const double a = law.a(), b = law.b(), g = law.G();
  laws.a2_params = PowerLaw{g * std::pow(1 / k, a) * 1.02, a * 1.01};
  laws.a2_tokens = PowerLaw{std::pow(1 / k, b) / g / 1.02, b * 0.99};
  // Kaplan's L(C) through the smallest and largest minima.
  const double slope = -std::log(minima_loss.back() / minima_loss.front()) /
                       std::log(minima_flops.back() / minima_flops.front());
  laws.kaplan_compute =
      OffsetPowerLaw{0, minima_flops.front() * std::pow(minima_loss.front(), 1 / slope), slope};
  const double offset_slope =
      -std::log((minima_loss.back() - law.E) / (minima_loss.front() - law.E)) /
      std::log(minima_flops.back() / minima_flops.front());
  laws.kaplan_compute_offset = OffsetPowerLaw{
      law.E, minima_flops.front() * std::pow(minima_loss.front() - law.E, 1 / offset_slope),
      offset_slope};

  analysis.quantities.push_back(
      quantity("a2.a", "a (approach 2)", laws.a2_params->exponent, 0.04, full));
  analysis.quantities.push_back(
      quantity("a2.b", "b (approach 2)", laws.a2_tokens->exponent, 0.04, full));
  analysis.quantities.push_back(
      quantity("kaplan.compute.exponent", "α_C (Kaplan L(C))", slope, 0.1, full));
  if (!full) {
    laws.why["a1"] = "no training curves";
    laws.why["a3"] = "not requested";
    analysis.backtest.why = "--holdout 0: no budgets held out";
    analysis.distance.why = "not asked for (distance_backtest = false)";
    return analysis;
  }

  for (int i = 0; i <= 40; ++i) {  // approach 1's envelope along the true frontier
    const double c = 1e16 * std::pow(10.0, i / 10.0);
    laws.envelope.flops.push_back(c);
    laws.envelope.params.push_back(law.optimal_params(c, k) * wobble(i));
    laws.envelope.tokens.push_back(law.optimal_tokens(c, k) / wobble(i));
    laws.envelope.loss.push_back(
        law.loss(laws.envelope.params.back(), laws.envelope.tokens.back()));
  }
  laws.a1_params = PowerLaw{g * std::pow(1 / k, a), a};
  laws.a1_tokens = PowerLaw{std::pow(1 / k, b) / g, b};
  ParametricFit fit;
  fit.law = law;
  fit.objective = 1.2e-4;
  fit.starts = 3750;
  fit.converged = 3612;
  fit.termination = Termination::kConvergence;
  laws.a3 = fit;

  analysis.quantities.push_back(quantity("a1.a", "a (approach 1)", a, 0.02, true));
  analysis.quantities.push_back(quantity("a1.b", "b (approach 1)", b, 0.02, true));
  analysis.quantities.push_back(quantity("a3.a", "a (approach 3)", law.a(), 0.01, true));
  analysis.quantities.push_back(quantity("a3.b", "b (approach 3)", law.b(), 0.01, true));
  analysis.quantities.push_back(quantity("a3.E", "E (approach 3)", law.E, 0.05, true));
  analysis.quantities.push_back(quantity("a3.A", "A (approach 3)", law.A, 0.2, true));
  analysis.quantities.push_back(quantity("a3.B", "B (approach 3)", law.B, 0.2, true));
  analysis.quantities.push_back(quantity("a3.alpha", "α (approach 3)", law.alpha, 0.05, true));
  analysis.quantities.push_back(quantity("a3.beta", "β (approach 3)", law.beta, 0.05, true));

  // A compute target for every approach, and a model given as (N, D).
  for (int approach = 1; approach <= 3; ++approach) {
    Projection p;
    p.target.compute = 1e22;
    p.approach = approach;
    const double n = law.optimal_params(1e22, k) * (1 + 0.05 * (approach - 2));
    const double d = 1e22 / (k * n);
    p.compute = quantity("target.1e22.compute", "C", 1e22, 0, true);
    p.params = quantity("target.1e22.params", "N", n, 0.2, true);
    p.tokens = quantity("target.1e22.tokens", "D", d, 0.2, true);
    p.tokens_per_param = quantity("target.1e22.tpp", "D/N", d / n, 0.3, true);
    p.loss = quantity("target.1e22.loss", "L", law.loss(n, d), 0.02, true);
    analysis.projections.push_back(p);
  }
  Projection model;
  model.target = {"Chinchilla 70B", 0, 70e9, 1.4e12};
  model.approach = 3;
  model.compute = quantity("target.chinchilla.compute", "C", k * 70e9 * 1.4e12, 0, false);
  model.params = quantity("target.chinchilla.params", "N", 70e9, 0, false);
  model.tokens = quantity("target.chinchilla.tokens", "D", 1.4e12, 0, false);
  model.tokens_per_param = quantity("target.chinchilla.tpp", "D/N", 20, 0, false);
  model.loss = quantity("target.chinchilla.loss", "L", law.loss(70e9, 1.4e12), 0.01, true);
  analysis.projections.push_back(model);

  Backtest& backtest = analysis.backtest;
  backtest.fitted_budgets = {1e18, 1e19};
  backtest.held_out_budgets = {1e20};
  for (int approach : {2, 3}) {
    BacktestRow row;
    row.budget = 1e20;
    row.approach = approach;
    row.observed_params = minima_params.back();
    row.observed_loss = minima_loss.back();
    row.predicted_params = quantity("backtest.n", "N_opt",
                                    minima_params.back() * (approach == 2 ? 1.1 : 0.95), 0.2, true);
    row.predicted_loss =
        quantity("backtest.l", "L", minima_loss.back() + 0.01 * approach, 0.01, true);
    row.params_error = row.predicted_params.value / row.observed_params - 1;
    row.loss_error = row.predicted_loss.value - row.observed_loss;
    row.params_covered = Coverage::kCovered;
    row.loss_covered = approach == 2 ? Coverage::kCovered : Coverage::kNotCovered;
    backtest.rows.push_back(row);
  }
  // The distance backtest of 3 budgets: one split, fitted to 1e18 and 1e19,
  // predicting 1e20 (a factor 10), one row per approach; approach 1 covers
  // both, approach 2 only N_opt, approach 3 neither.
  DistanceBacktest& distance = analysis.distance;
  BacktestSplit split;
  split.fitted_budgets = {1e18, 1e19};
  distance.splits.push_back(split);
  const double loss_offsets[3] = {0.002, 0.01, 0.02}, params_offsets[3] = {0.04, 0.08, 0.12};
  for (int approach : {1, 2, 3}) {
    BacktestRow row;
    row.budget = 1e20;
    row.largest_fitted = 1e19;
    row.extrapolation = 10;
    row.approach = approach;
    row.observed_params = minima_params.back();
    row.observed_loss = minima_loss.back();
    row.predicted_params =
        quantity("target.0.a" + std::to_string(approach) + ".params", "N_opt",
                 row.observed_params * (1 + params_offsets[approach - 1]), 0.1, true);
    row.predicted_loss =
        quantity("target.0.a" + std::to_string(approach) + ".loss", "L",
                 row.observed_loss * (1 + loss_offsets[approach - 1]), 0.004, true);
    row.params_error = row.predicted_params.value / row.observed_params - 1;
    row.loss_error = row.predicted_loss.value - row.observed_loss;
    row.loss_relative_error = row.loss_error / row.observed_loss;
    row.params_covered = coverage_of(row.predicted_params, row.observed_params);
    row.loss_covered = coverage_of(row.predicted_loss, row.observed_loss);
    distance.rows.push_back(row);
    DistanceSummary summary;
    summary.extrapolation = 10;
    summary.approach = approach;
    summary.rows = 1;
    summary.mean_abs_loss_error = std::abs(row.loss_relative_error);
    summary.mean_abs_params_error = std::abs(row.params_error);
    summary.loss_intervals = summary.params_intervals = 1;
    summary.loss_covered = row.loss_covered == Coverage::kCovered;
    summary.params_covered = row.params_covered == Coverage::kCovered;
    distance.summary.push_back(summary);
  }
  analysis.replicate_failures["a2"] = 3;
  analysis.warnings.push_back("the 1e18 profile's minimum is near its smallest model");
  analysis.seconds = 12.3;
  return analysis;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Text that shows a missing number where a number should be.
bool has_nan_or_inf(const std::string& text, std::string* found) {
  static const std::regex kBad(R"(\b-?(nan|inf|infinity)\b)", std::regex::icase);
  std::smatch match;
  if (!std::regex_search(text, match, kBad)) return false;
  *found = text.substr(std::max<long>(0, match.position(0) - 60), 140);
  return true;
}

std::string exponent_cell(const Quantity* q) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.3f [%.3f, %.3f]", q->value, q->lo, q->hi);
  return text;
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "report_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    options_.output_base = dir_ + "/fit";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> files_in_dir() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
  ReportOptions options_;
};

TEST_F(ReportTest, WritesHtmlMarkdownJsonAndAnSvgPerPlot) {
  const FitData data = synthetic_data(/*table=*/false);
  const Analysis analysis = synthetic_analysis(data, /*full=*/true);
  const ReportFiles files = write_report(data, analysis, options_);
  EXPECT_EQ(files.html, dir_ + "/fit.html");
  EXPECT_EQ(files.markdown, dir_ + "/fit.md");
  EXPECT_EQ(files.json, dir_ + "/fit.json");
  const std::vector<std::string> plots = {"profiles", "optimal-params", "optimal-tokens",
                                          "frontier", "curves",         "residuals",
                                          "backtest", "distance"};
  ASSERT_EQ(files.plots.size(), plots.size());
  for (size_t i = 0; i < plots.size(); ++i) {
    EXPECT_EQ(files.plots[i], dir_ + "/fit-" + plots[i] + ".svg");
    const std::string svg = read(files.plots[i]);
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << files.plots[i];
    // 6 significant digits and thinned curves keep each plot small.
    EXPECT_LT(svg.size(), 400u * 1024) << files.plots[i] << " is " << svg.size() << " bytes";
  }
  for (const std::string& name : files_in_dir())
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << "temporary file left behind: " << name;

  const std::string html = read(files.html);
  EXPECT_EQ(count_of(html, "<svg"), plots.size());
  EXPECT_EQ(count_of(html, "</svg>"), plots.size());
  for (const std::string& name : plots)
    EXPECT_NE(html.find("id=\"plot-" + name + "\""), std::string::npos) << name;
  EXPECT_EQ(html.find("<?xml"), std::string::npos) << "XML prolog inside the page";
  EXPECT_EQ(html.find("Plot omitted"), std::string::npos);
}

TEST_F(ReportTest, HtmlHasTheSectionsAndTheExponentsWithTheirIntervals) {
  const FitData data = synthetic_data(/*table=*/false);
  const Analysis analysis = synthetic_analysis(data, /*full=*/true);
  const ReportFiles files = write_report(data, analysis, options_);
  const std::string html = read(files.html);
  const std::string markdown = read(files.markdown);
  for (const std::string heading :
       {"Data", "Compute-optimal scaling", "IsoFLOP profiles",
        "Compute-optimal model size N_opt(C)", "Compute-optimal tokens D_opt(C)",
        "Loss–compute frontier", "Projections to targets", "Training curves",
        "Residuals of approach 3", "Backtest", "Error against extrapolation distance",
        "Warnings and failures", "All quantities"}) {
    EXPECT_NE(html.find(">" + heading + "</h2>"), std::string::npos) << heading;
    EXPECT_NE(markdown.find("\n## " + heading + "\n"), std::string::npos) << heading;
  }
  // The headline rows: a and b of every approach as "value [lo, hi]".
  for (const std::string key : {"a1.a", "a1.b", "a2.a", "a2.b", "a3.a", "a3.b"}) {
    const std::string cell = exponent_cell(analysis.find(key));
    EXPECT_NE(html.find("<td class=\"num\">" + cell + "</td>"), std::string::npos)
        << key << ": " << cell;
    EXPECT_NE(markdown.find("| " + cell + " |"), std::string::npos) << key << ": " << cell;
  }
  // Every quantity appears in the full table, whatever its key.
  for (const Quantity& q : analysis.quantities) {
    EXPECT_NE(html.find("<td>" + q.key + "</td>"), std::string::npos) << q.key;
    EXPECT_NE(markdown.find("| " + q.key + " |"), std::string::npos) << q.key;
  }
  EXPECT_NE(html.find("diverged at step 120: loss 9.1"), std::string::npos);
  EXPECT_NE(html.find("Chinchilla 70B"), std::string::npos);
  EXPECT_NE(html.find("the 1e18 profile's minimum is near its smallest model"), std::string::npos);
  EXPECT_NE(html.find("k = C/(N·D) = 6"), std::string::npos);
  std::string found;
  EXPECT_FALSE(has_nan_or_inf(html, &found)) << found;
  EXPECT_FALSE(has_nan_or_inf(markdown, &found)) << found;
}

// An IsoFLOP vertex well below every run of its budget is the parabola's
// dip between sizes: the profiles table says so for that budget alone.
TEST_F(ReportTest, ProfilesTableNotesAVertexFarBelowTheBudgetsBestRun) {
  const FitData data = synthetic_data(/*table=*/false);
  Analysis analysis = synthetic_analysis(data, /*full=*/false);
  Profile& dipped = analysis.laws.profiles[1];
  double best = 1e9;
  for (const int64_t i : dipped.points) best = std::min(best, data.points[size_t(i)].loss);
  dipped.loss_opt = best * 0.95;
  const std::string text = fit_text(data, analysis);
  char note[96];
  std::snprintf(note, sizeof(note), "the vertex is 5.0%% below the best run here (%.3f)", best);
  EXPECT_NE(text.find(note), std::string::npos) << note;
  EXPECT_EQ(count_of(text, "below the best run here"), 1u)
      << "the other budgets' vertices lie within 2% of their best runs";
}

TEST_F(ReportTest, HtmlIsSelfContained) {
  const FitData data = synthetic_data(/*table=*/false);
  const ReportFiles files = write_report(data, synthetic_analysis(data, true), options_);
  const std::string html = read(files.html);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<style>"), std::string::npos);
  for (const std::string external : {"<link", "<script", " src=", "@import", "url(http"})
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  // Each inline SVG gets its own ids: gnuplot gives every SVG the same ones.
  EXPECT_NE(html.find("id='profiles-gpPt0'"), std::string::npos);
  EXPECT_NE(html.find("id='curves-gpPt0'"), std::string::npos);
  EXPECT_EQ(html.find("id='gpPt0'"), std::string::npos);
}

TEST_F(ReportTest, MarkdownReferencesTheSvgFilesBesideIt) {
  const FitData data = synthetic_data(/*table=*/false);
  const ReportFiles files = write_report(data, synthetic_analysis(data, true), options_);
  const std::string markdown = read(files.markdown);
  static const std::regex kImage(R"(!\[[^\]]*\]\(([^)]+)\))");
  std::vector<std::string> referenced;
  for (auto it = std::sregex_iterator(markdown.begin(), markdown.end(), kImage);
       it != std::sregex_iterator(); ++it) {
    const std::string target = (*it)[1];
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/" + target)) << target << " does not exist";
    referenced.push_back(dir_ + "/" + target);
  }
  EXPECT_EQ(referenced, files.plots);
}

TEST_F(ReportTest, JsonIsTheFitAsJson) {
  const FitData data = synthetic_data(/*table=*/false);
  const Analysis analysis = synthetic_analysis(data, true);
  const ReportFiles files = write_report(data, analysis, options_);
  EXPECT_EQ(nlohmann::json::parse(read(files.json)), to_json(data, analysis));
}

TEST_F(ReportTest, PlotsWithoutDataAreOmittedWithAReasonAndTheirOldFilesRemoved) {
  const FitData sweep = synthetic_data(/*table=*/false);
  write_report(sweep, synthetic_analysis(sweep, true), options_);
  ASSERT_TRUE(std::filesystem::exists(dir_ + "/fit-curves.svg"));

  const FitData table = synthetic_data(/*table=*/true);
  const ReportFiles files = write_report(table, synthetic_analysis(table, false), options_);
  const std::string html = read(files.html);
  const std::string markdown = read(files.markdown);
  EXPECT_NE(html.find("Plot omitted: The input is a CSV table, which has no training curves."),
            std::string::npos);
  EXPECT_NE(markdown.find("*Plot omitted: The input is a CSV table"), std::string::npos);
  EXPECT_NE(html.find("Plot omitted: Approach 3 was not fitted: not requested"), std::string::npos);
  EXPECT_NE(html.find("No backtest: --holdout 0: no budgets held out"), std::string::npos);
  EXPECT_NE(html.find("No distance backtest: not asked for (distance_backtest = false)"),
            std::string::npos);
  for (const std::string omitted : {"curves", "residuals", "backtest", "distance"}) {
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/fit-" + omitted + ".svg")) << omitted;
    EXPECT_EQ(markdown.find("fit-" + omitted + ".svg"), std::string::npos) << omitted;
  }
  EXPECT_EQ(count_of(html, "<svg"), files.plots.size());
  EXPECT_EQ(files.plots.size(), 4u);  // profiles, N_opt, D_opt, frontier: approach 2 alone
  EXPECT_NE(html.find("not fitted"), std::string::npos) << "approaches 1 and 3 in the headline";
}

TEST_F(ReportTest, WithoutBootstrapValuesStandAloneAndNothingReadsNan) {
  const FitData data = synthetic_data(/*table=*/true);
  const Analysis analysis = synthetic_analysis(data, /*full=*/false);
  ASSERT_TRUE(std::isnan(analysis.find("a2.a")->lo));
  const ReportFiles files = write_report(data, analysis, options_);
  const std::string html = read(files.html);
  char value[32];
  std::snprintf(value, sizeof(value), "%.3f", analysis.find("a2.a")->value);
  EXPECT_NE(html.find("<td class=\"num\">" + std::string(value) + "</td>"), std::string::npos)
      << value;
  EXPECT_NE(html.find("No bootstrap was run"), std::string::npos);
  std::string found;
  EXPECT_FALSE(has_nan_or_inf(html, &found)) << found;
  EXPECT_FALSE(has_nan_or_inf(read(files.markdown), &found)) << found;
}

// Without a bootstrap a prediction has no interval: "no interval", not "no".
TEST_F(ReportTest, BacktestWithoutIntervalsSaysNoIntervalInHtmlAndJson) {
  const FitData data = synthetic_data(/*table=*/false);
  Analysis analysis = synthetic_analysis(data, true);
  for (BacktestRow& row : analysis.backtest.rows) {
    row.predicted_params.lo = row.predicted_params.hi = NAN;
    row.predicted_loss.lo = row.predicted_loss.hi = NAN;
    row.params_covered = row.loss_covered = Coverage::kNoInterval;
  }
  const ReportFiles files = write_report(data, analysis, options_);
  const std::string html = read(files.html);
  EXPECT_EQ(count_of(html, "<td class=\"num\">no interval</td>"), 4u) << "2 rows x (N_opt, loss)";
  const nlohmann::json json = nlohmann::json::parse(read(files.json));
  for (const auto& row : json["backtest"]["rows"]) {
    EXPECT_TRUE(row["params_covered"].is_null()) << row.dump();
    EXPECT_EQ(row["params_coverage"], "no interval");
    EXPECT_EQ(row["loss_coverage"], "no interval");
  }
  const nlohmann::json covered = to_json(data, synthetic_analysis(data, true))["backtest"];
  EXPECT_EQ(covered["rows"][0]["params_covered"], true);
  EXPECT_EQ(covered["rows"][0]["loss_coverage"], "covered");
  EXPECT_EQ(covered["rows"][1]["loss_covered"], false);
}

// Approach 3's summary is reported; an unusable optimum is described, never
// shown as a law, drawn or projected.
TEST_F(ReportTest, Approach3SummaryIsShownAndAnUnusableOptimumIsNotALaw) {
  const FitData data = synthetic_data(/*table=*/false);
  Analysis analysis = synthetic_analysis(data, true);
  std::string html = read(write_report(data, analysis, options_).html);
  EXPECT_NE(html.find("the best start ended with CONVERGENCE"), std::string::npos);
  EXPECT_EQ(html.find("fewer than 50% of the starts converged"), std::string::npos);
  nlohmann::json a3 = to_json(data, analysis)["laws"]["approach3"];
  EXPECT_EQ(a3["summary"]["termination"], "CONVERGENCE");
  EXPECT_EQ(a3["summary"]["usable"], true);
  EXPECT_TRUE(a3["summary"]["warning"].is_null());
  EXPECT_TRUE(a3.contains("alpha"));

  analysis.laws.a3->converged = 100;  // of 3,750
  html = read(write_report(data, analysis, options_).html);
  EXPECT_NE(html.find("fewer than 50% of the starts converged"), std::string::npos);
  EXPECT_EQ(to_json(data, analysis)["laws"]["approach3"]["summary"]["warning"],
            "few starts converged");

  analysis.laws.a3->termination = Termination::kFailure;
  analysis.laws.a3->message = "line search failed";
  html = read(write_report(data, analysis, options_).html);
  EXPECT_NE(html.find("Approach 3's optimum is not used as a law: L-BFGS failed"),
            std::string::npos)
      << "";
  EXPECT_EQ(html.find("Approach 3 fits L(N, D)"), std::string::npos);
  EXPECT_NE(html.find("Plot omitted: Approach 3"), std::string::npos) << "no residuals plot";
  a3 = to_json(data, analysis)["laws"]["approach3"];
  EXPECT_EQ(a3["summary"]["usable"], false);
  EXPECT_FALSE(a3.contains("alpha"));
}

// Approach 1's envelope says how many of its points are annealed run ends.
TEST_F(ReportTest, EnvelopeProvenanceIsStated) {
  const FitData data = synthetic_data(/*table=*/false);
  Analysis analysis = synthetic_analysis(data, true);
  Envelope& e = analysis.laws.envelope;
  e.run_end.assign(e.flops.size(), false);
  for (size_t i = 0; i < e.run_end.size(); i += 10) e.run_end[i] = true;  // 5 of 41
  const std::string html = read(write_report(data, analysis, options_).html);
  EXPECT_NE(html.find("Approach 1's envelope has 41 points: 5 are annealed run ends"),
            std::string::npos);
  EXPECT_NE(html.find("36 are mid-schedule points of longer runs"), std::string::npos);
  const nlohmann::json a1 = to_json(data, analysis)["laws"]["approach1"];
  EXPECT_EQ(a1["envelope"], "all");
  EXPECT_EQ(a1["envelope_points"], 41);
  EXPECT_EQ(a1["envelope_run_ends"], 5);
}

std::string printf_text(const char* format, double x) {
  char text[64];
  std::snprintf(text, sizeof(text), format, x);
  return text;
}

// The distance backtest: its section (the table of every prediction and the
// summary by factor), its plot (covered and not covered told apart), its
// rows in the JSON, and the table in `sweepd fit`'s text.
TEST_F(ReportTest, DistanceBacktestHasItsSectionTablePlotAndJsonArray) {
  const FitData data = synthetic_data(/*table=*/false);
  const Analysis analysis = synthetic_analysis(data, true);
  const DistanceBacktest& distance = analysis.distance;
  ASSERT_EQ(distance.rows[0].loss_covered, Coverage::kCovered);
  ASSERT_EQ(distance.rows[1].loss_covered, Coverage::kNotCovered);
  ASSERT_EQ(distance.rows[1].params_covered, Coverage::kCovered);
  ASSERT_EQ(distance.rows[2].params_covered, Coverage::kNotCovered);
  const ReportFiles files = write_report(data, analysis, options_);
  const std::string html = read(files.html);
  const std::string markdown = read(files.markdown);
  const std::string text = fit_text(data, analysis);
  const size_t section = html.find(">Error against extrapolation distance</h2>");
  ASSERT_NE(section, std::string::npos);
  const std::string body = html.substr(section, html.find("<h2", section + 1) - section);
  for (const std::string header : {"Factor", "Fitted budgets ≤", "Predicted loss", "Observed loss",
                                   "Loss error", "Predicted N_opt", "N error"})
    EXPECT_NE(body.find("<th class=\"num\">" + header + "</th>"), std::string::npos) << header;
  for (const BacktestRow& row : distance.rows) {
    const std::string loss_error = printf_text("%+.3f", row.loss_error) + " (" +
                                   printf_text("%+.1f%%", 100 * row.loss_relative_error) + ")";
    const std::string params_error = printf_text("%+.1f%%", 100 * row.params_error);
    for (const std::string& cell : {loss_error, params_error}) {
      EXPECT_NE(body.find("<td class=\"num\">" + cell + "</td>"), std::string::npos) << cell;
      EXPECT_NE(markdown.find("| " + cell + " |"), std::string::npos) << cell;
      EXPECT_NE(text.find(cell), std::string::npos) << cell;
    }
  }
  EXPECT_EQ(count_of(body, "<td class=\"num\">10×</td>"), 6u) << "3 rows and 3 summary rows";
  EXPECT_EQ(count_of(body, "<td class=\"num\">1 of 1</td>"), 3u) << "loss 1, N_opt 1 and 2";
  EXPECT_EQ(count_of(body, "<td class=\"num\">0 of 1</td>"), 3u);
  EXPECT_NE(body.find("id=\"plot-distance\""), std::string::npos);
  EXPECT_NE(text.find("Error against extrapolation distance"), std::string::npos);
  EXPECT_NE(text.find("Fitted budgets ≤"), std::string::npos);

  const std::string svg = read(dir_ + "/fit-distance.svg");
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  for (const std::string title : {"approach 1, covered", "approach 2, not covered",
                                  "approach 2, covered", "approach 3, not covered"})
    EXPECT_NE(svg.find(title), std::string::npos) << title;
  EXPECT_EQ(svg.find("approach 1, not covered"), std::string::npos)
      << "approach 1 covers both: no such series";

  const nlohmann::json json = nlohmann::json::parse(read(files.json));
  ASSERT_TRUE(json["distance_backtest"].is_array());
  ASSERT_EQ(json["distance_backtest"].size(), distance.rows.size());
  for (size_t i = 0; i < distance.rows.size(); ++i) {
    const nlohmann::json& row = json["distance_backtest"][i];
    const BacktestRow& expected = distance.rows[i];
    EXPECT_EQ(row["extrapolation"], 10);
    EXPECT_EQ(row["largest_fitted_budget"], 1e19);
    EXPECT_EQ(row["budget"], 1e20);
    EXPECT_EQ(row["approach"], expected.approach);
    EXPECT_DOUBLE_EQ(row["loss_error"].get<double>(), expected.loss_error);
    EXPECT_DOUBLE_EQ(row["loss_relative_error"].get<double>(), expected.loss_relative_error);
    EXPECT_DOUBLE_EQ(row["params_error"].get<double>(), expected.params_error);
    EXPECT_DOUBLE_EQ(row["predicted_loss"]["lo"].get<double>(), expected.predicted_loss.lo);
    EXPECT_EQ(row["loss_covered"], expected.loss_covered == Coverage::kCovered);
    EXPECT_EQ(row["params_coverage"], to_string(expected.params_covered));
  }
  ASSERT_EQ(json["distance_backtest_summary"].size(), 3u);
  EXPECT_EQ(json["distance_backtest_summary"][2]["loss_covered"], 0);
  EXPECT_EQ(json["distance_backtest_splits"][0]["fitted_budgets"],
            (std::vector<double>{1e18, 1e19}));
  EXPECT_TRUE(json["distance_backtest_why"].is_null());
}

// Repeated runs give a noise floor, stated with where it came from; without
// them one line says there is none.
TEST_F(ReportTest, SeedNoiseIsStatedOrSaidToBeAbsent) {
  const FitData data = synthetic_data(/*table=*/false);
  Analysis analysis = synthetic_analysis(data, true);
  std::string html = read(write_report(data, analysis, options_).html);
  EXPECT_NE(html.find("No seed-noise floor was measured"), std::string::npos);
  nlohmann::json noise = to_json(data, analysis)["noise"];
  EXPECT_TRUE(noise["loss_sd"].is_null());
  EXPECT_EQ(noise["groups"], 0);

  analysis.noise.groups = 4;
  analysis.noise.runs = 12;
  analysis.noise.loss_sd = quantity("noise.loss_sd", "σ", 0.012, 0, false);
  analysis.noise.z = 1.645;
  html = read(write_report(data, analysis, options_).html);
  EXPECT_EQ(html.find("No seed-noise floor was measured"), std::string::npos);
  EXPECT_NE(html.find("Seed noise: σ = 0.012 nats"), std::string::npos);
  EXPECT_NE(html.find("pooled over 4 groups of repeated runs (12 runs)"), std::string::npos);
  EXPECT_NE(html.find("widened by z·σ = 0.01974 nats in quadrature (z = 1.645 for 90%)"),
            std::string::npos);
  noise = to_json(data, analysis)["noise"];
  EXPECT_DOUBLE_EQ(noise["loss_sd"].get<double>(), 0.012);
  EXPECT_EQ(noise["groups"], 4);
  EXPECT_EQ(noise["runs"], 12);
  EXPECT_DOUBLE_EQ(noise["loss_interval_widening"].get<double>(), 1.645 * 0.012);
}

TEST_F(ReportTest, FailingGnuplotThrowsAndLeavesNoFiles) {
  const FitData data = synthetic_data(/*table=*/false);
  const Analysis analysis = synthetic_analysis(data, true);
  options_.gnuplot = "/bin/false";
  EXPECT_THROW(write_report(data, analysis, options_), std::runtime_error);
  EXPECT_TRUE(files_in_dir().empty()) << files_in_dir().front();

  options_.gnuplot = dir_ + "/no-such-gnuplot";
  try {
    write_report(data, analysis, options_);
    ADD_FAILURE() << "a missing gnuplot did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-gnuplot"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(files_in_dir().empty());
}

TEST_F(ReportTest, UnwritableOutputIsAUserErrorAndWritesNothing) {
  const FitData data = synthetic_data(/*table=*/false);
  options_.output_base = dir_ + "/no/such/dir/fit";
  EXPECT_THROW(write_report(data, synthetic_analysis(data, true), options_), UserError);
  EXPECT_TRUE(files_in_dir().empty());
}

TEST(Gnuplot, ErrorsCarryGnuplotsOwnMessage) {
  try {
    run_gnuplot("gnuplot", "plot x with no_such_style\n");
    ADD_FAILURE() << "a bad script did not throw";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("exited with status"), std::string::npos) << what;
    EXPECT_NE(what.find("no_such_style"), std::string::npos)
        << "gnuplot's stderr is missing: " << what;
  }
}

TEST(Gnuplot, InlineSvgDropsThePrologAndPrefixesIds) {
  const std::string svg = run_gnuplot("gnuplot", "plot x with points pt 7\n");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << svg.substr(0, 80);
  const std::string inlined = inline_svg(svg, "p-");
  EXPECT_EQ(inlined.rfind("<svg", 0), 0u) << inlined.substr(0, 80);
  EXPECT_EQ(inlined.find("id='gp"), std::string::npos);
  EXPECT_EQ(inlined.find("href='#gp"), std::string::npos);
  EXPECT_NE(inlined.find("href='#p-gpPt6'"), std::string::npos);
}

// Renders the page in headless Chromium and checks the screenshot is not
// blank (tests/report_screenshot.sh).
TEST_F(ReportTest, ChromiumRendersThePageAsMoreThanABlankSheet) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "chromium is not on PATH (scripts/setup installs it)";
  const FitData data = synthetic_data(/*table=*/false);
  const ReportFiles files = write_report(data, synthetic_analysis(data, true), options_);
  const std::string png = dir_ + "/fit.png";
  const std::string command = std::string("bash ") + SWEEP_SOURCE_DIR +
                              "/tests/report_screenshot.sh '" + files.html + "' '" + png + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_TRUE(std::filesystem::exists(png)) << output;
}

}  // namespace
}  // namespace sweep::fit
