#include "fit/report.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "common/error.h"
#include "common/format.h"
#include "fit/document.h"
#include "fit/fit_json.h"
#include "fit/plots.h"
#include "fit/verification.h"

// The report is built once as a Document (fit/document.h) and rendered as
// HTML, Markdown and, for `sweepd fit`, plain text. Numbers are formatted
// here, once, for all three.

namespace sweep::fit {
namespace {

// ---------------------------------------------------------------- numbers

// Shown where a number does not exist (NaN: no bootstrap, a failed fit).
constexpr const char* kMissing = "–";

using Formatter = std::string (*)(double);

std::string printf_number(const char* format, double x) {
  char text[48];
  std::snprintf(text, sizeof(text), format, x);
  return text;
}

// Any number: 4 significant digits, scientific outside [1e-3, 1e4).
std::string general(double x) {
  if (!std::isfinite(x)) return kMissing;
  if (x == 0) return "0";
  if (std::fabs(x) >= 1e4 || std::fabs(x) < 1e-3) return format_sci(x, 4);
  return printf_number("%.4g", x);
}
std::string count(double x) { return std::isfinite(x) ? format_count(x) : kMissing; }
std::string flops(double x) { return std::isfinite(x) ? format_sci(x, 3) : kMissing; }
std::string exponent(double x) { return std::isfinite(x) ? printf_number("%.3f", x) : kMissing; }
std::string loss(double x) { return std::isfinite(x) ? printf_number("%.3f", x) : kMissing; }

// "value [lo, hi]"; the value alone without a bootstrap interval, or when the
// interval is the value itself (a target's given compute).
std::string with_interval(const Quantity& q, Formatter format) {
  std::string text = format(q.value);
  if (std::isfinite(q.value) && std::isfinite(q.lo) && std::isfinite(q.hi) &&
      (q.lo != q.value || q.hi != q.value))
    text += " [" + format(q.lo) + ", " + format(q.hi) + "]";
  return text;
}
std::string with_interval(const Quantity* q, Formatter format) {
  return q == nullptr ? "not fitted" : with_interval(*q, format);
}

// "yes", "no", or "no interval" (no bootstrap: neither yes nor no).
std::string coverage_text(Coverage coverage) {
  switch (coverage) {
    case Coverage::kCovered:
      return "yes";
    case Coverage::kNotCovered:
      return "no";
    case Coverage::kNoInterval:
      break;
  }
  return "no interval";
}

std::string target_label(const Target& t) {
  if (!t.name.empty()) return t.name;
  if (t.compute > 0) return "C = " + flops(t.compute);
  return "N = " + count(t.params) + ", D = " + count(t.tokens);
}

const Plot* find_plot(const std::vector<Plot>& plots, const std::string& name) {
  for (const Plot& p : plots)
    if (p.name == name) return &p;
  return nullptr;
}

void plot_section(Document& doc, const std::vector<Plot>& plots, const std::string& name) {
  const Plot* plot = find_plot(plots, name);
  if (plot == nullptr) return;
  doc.heading(plot->title);
  doc.plot(*plot);
}

// ---------------------------------------------------------------- sections

void data_section(Document& doc, const FitData& data) {
  doc.heading("Data");
  const auto profiles = data.profiles();
  char k[32];
  std::snprintf(k, sizeof(k), "%.4g", data.flops_per_param_token);
  doc.paragraph("Source: " + data.source + ". " + std::to_string(data.points.size()) +
                " runs fitted in " + std::to_string(profiles.size()) + " budgets; " +
                std::to_string(data.excluded.size()) + " excluded. N counts " +
                (data.params == ParamConvention::kTotal ? "total parameters"
                                                        : "non-embedding parameters") +
                ". FLOPs counted with the " +
                data.flop_convention + " convention; k = C/(N·D) = " + k +
                " relates compute to parameters and tokens in the closed-form frontiers.");
  Table budgets({"Budget C (FLOPs)", "Runs", "N (parameters)", "D (tokens)", "Lowest loss"},
                /*align=*/"r");
  for (size_t b = 0; b < profiles.size(); ++b) {
    if (profiles[b].empty()) continue;
    double n_lo = INFINITY, n_hi = -INFINITY, d_lo = INFINITY, d_hi = -INFINITY, best = INFINITY;
    for (int64_t i : profiles[b]) {
      const Observation& o = data.points[i];
      n_lo = std::min(n_lo, o.params), n_hi = std::max(n_hi, o.params);
      d_lo = std::min(d_lo, o.tokens), d_hi = std::max(d_hi, o.tokens);
      best = std::min(best, o.loss);
    }
    const double budget =
        b < data.budgets.size() ? data.budgets[b] : data.points[profiles[b][0]].budget;
    budgets.rows.push_back({flops(budget), std::to_string(profiles[b].size()),
                            count(n_lo) + " – " + count(n_hi), count(d_lo) + " – " + count(d_hi),
                            loss(best)});
  }
  doc.table(budgets, "There are no runs.");
  Table excluded({"Run", "Why it was not fitted"}, /*align=*/"ll");
  for (const Excluded& e : data.excluded) excluded.rows.push_back({e.run_id, e.reason});
  doc.table(excluded, "No runs were excluded.");
  if (!data.notes.empty()) doc.list(data.notes);
}

// A tuned variant's [tune] sweep: the candidates' losses and the choice.
void tuning_section(Document& doc, const FitData& data) {
  for (const Tuning& t : data.tuning) {
    doc.heading("Recipe tuning");
    std::string sizes;
    for (double n : t.params) sizes += (sizes.empty() ? "N = " : ", ") + count(n);
    doc.paragraph(
        "Before its grid, " + std::to_string(t.candidates.size()) + " candidate recipes ([tune]) " +
        "trained at " + flops(t.budget) + " FLOPs (" + sizes +
        "); these tune runs are not fitted. Chosen: " +
        (t.used ? "the recipe the grid trained with, " : "the recipe the rule picks now (no grid run "
                                                         "has started with it yet), ") +
        t.how + ".");
    std::vector<std::string> header = {"Candidate"};
    for (double n : t.params) header.push_back("Loss at N = " + count(n));
    header.insert(header.end(), {"Mean", ""});
    Table table(header, /*align=*/"l" + std::string(t.params.size() + 1, 'r') + "l");
    for (const TuningCandidate& c : t.candidates) {
      std::vector<std::string> row = {c.label};
      for (double l : c.losses) row.push_back(std::isfinite(l) ? loss(l) : "did not finish");
      row.push_back(loss(c.mean_loss));
      row.push_back(c.chosen ? "chosen" : "");
      table.rows.push_back(row);
    }
    doc.table(table, "");
    if (!t.warnings.empty()) doc.list(t.warnings);
  }
}

// Where approach 1's envelope points come from (docs/fit.md, "Approach 1").
void approach1_paragraph(Document& doc, const Analysis& analysis) {
  const Envelope& e = analysis.laws.envelope;
  if (e.flops.empty()) return;
  const int64_t ends = e.run_ends(), total = static_cast<int64_t>(e.flops.size());
  if (e.mode == EnvelopeMode::kEnds) {
    doc.paragraph(
        "Approach 1 (--envelope ends) uses annealed run ends only: " + std::to_string(total) +
        " envelope points, each the final point of a run whose cosine schedule had "
        "finished (each budget's lowest, where lower than every smaller budget's).");
    return;
  }
  doc.paragraph("Approach 1's envelope has " + std::to_string(total) +
                " points: " + std::to_string(ends) +
                " are annealed run ends (within the last 1% of a run's FLOPs, its cosine "
                "schedule finished) and " +
                std::to_string(total - ends) +
                " are mid-schedule points of longer runs, whose learning rate had not decayed "
                "yet (--envelope ends uses run ends only).");
}

// Approach 3's law with its intervals, and its L-BFGS summary; an unusable
// optimum is described, never shown as a law.
void approach3_summary(Document& doc, const Analysis& analysis) {
  const LawSet& laws = analysis.laws;
  if (!laws.a3) return;
  const ParametricFit& fit = *laws.a3;
  if (!fit.usable()) {
    doc.paragraph("Approach 3's optimum is not used as a law: " + fit.why_unusable() +
                  ". L-BFGS: " + fit.brief_report() + ".");
    return;
  }
  const ParametricLaw& law = fit.law;
  Table parameters({"Parameter", "Value"});
  const std::pair<const char*, const char*> names3[] = {{"E", "E (irreducible loss, nats)"},
                                                        {"A", "A"},
                                                        {"B", "B"},
                                                        {"alpha", "α (N exponent)"},
                                                        {"beta", "β (D exponent)"}};
  const double values[] = {law.E, law.A, law.B, law.alpha, law.beta};
  for (int i = 0; i < 5; ++i) {
    const Quantity* q = analysis.find(std::string("a3.") + names3[i].first);
    parameters.rows.push_back(
        {names3[i].second, q ? with_interval(*q, general) : general(values[i])});
  }
  doc.paragraph("Approach 3 fits L(N, D) = E + A/N^α + B/D^β to every run:");
  doc.table(parameters, "");
  doc.paragraph("L-BFGS from " + std::to_string(fit.starts) + " starts, " +
                std::to_string(fit.converged) +
                " of which converged; Huber objective at the optimum " + general(fit.objective) +
                "; the best start ended with " + to_string(fit.termination) + ".");
  if (fit.few_converged())
    doc.paragraph("Warning: fewer than " +
                  std::to_string(static_cast<int>(kFewConvergedShare * 100)) +
                  "% of the starts converged; the optimum may not be the best there is.");
}

void headline_section(Document& doc, const FitData& data, const Analysis& analysis) {
  doc.heading("Compute-optimal scaling");
  const LawSet& laws = analysis.laws;
  int minima = 0;
  for (const Profile& p : laws.profiles) minima += p.parabola ? 1 : 0;
  const std::string fitted_to[3] = {
      std::to_string(laws.envelope.flops.size()) + " envelope points of the training curves",
      std::to_string(minima) + " IsoFLOP minima",
      "all " + std::to_string(data.points.size()) + " runs"};
  // The last column says what an approach was fitted to, or why it was not.
  auto fitted_or_why = [&](int approach) {
    const std::string law = "a" + std::to_string(approach);
    if (analysis.find(law + ".a") != nullptr) return fitted_to[approach - 1];
    const auto why = laws.why.find(law);
    return why != laws.why.end() ? why->second : std::string(kMissing);
  };
  const std::string names[3] = {"1: training-curve envelope", "2: IsoFLOP profiles",
                                "3: parametric L(N, D)"};
  Table table({"Approach", "a (N_opt ∝ C^a)", "b (D_opt ∝ C^b)", "Fitted to"}, /*align=*/"lrrl");
  for (int i = 0; i < 3; ++i) {
    const std::string prefix = "a" + std::to_string(i + 1) + ".";
    table.rows.push_back({names[i], with_interval(analysis.find(prefix + "a"), exponent),
                          with_interval(analysis.find(prefix + "b"), exponent),
                          fitted_or_why(i + 1)});
  }
  doc.table(table, "");
  char level[64];
  std::snprintf(level, sizeof(level), "%g%%", 100 * analysis.options.confidence);
  doc.paragraph(analysis.replicates_done > 0
                    ? std::string("Intervals: ") + level + " bootstrap percentile intervals over " +
                          std::to_string(analysis.replicates_done) +
                          " replicates, each resampling runs with replacement within every budget."
                    : "No bootstrap was run, so no intervals are shown.");
  doc.paragraph(
      "For comparison, Hoffmann et al. (2022, Table 2) found a = 0.50, 0.49, 0.46 and b = 0.50, "
      "0.51, 0.54 with approaches 1, 2 and 3; Kaplan et al. (2020) found a = 0.73, b = 0.27.");

  approach1_paragraph(doc, analysis);
  approach3_summary(doc, analysis);
}

// A parabola through three or four sizes can dip between them: a vertex more
// than this far below the budget's best run is the parabola's, not the
// runs' (the frontier and the comparisons of variants then rest on it).
constexpr double kVertexBelowBestRun = 0.02;  // relative, in loss

void profiles_table(Document& doc, const FitData& data, const Analysis& analysis) {
  Table table({"Budget C (FLOPs)", "Runs", "N_opt", "D_opt", "Loss at N_opt", "D/N at N_opt",
               "Minimum inside the sizes trained", "Note"},
              /*align=*/"rrrrrrrl");
  const std::map<double, double> best_loss = data.best_loss_by_budget();
  for (const Profile& p : analysis.laws.profiles) {
    const bool fitted = p.parabola.has_value();
    std::string note = p.why;
    if (fitted && best_loss.count(p.budget)) {
      const double best = best_loss.at(p.budget);
      if (p.loss_opt < best * (1 - kVertexBelowBestRun)) {
        char text[200];
        std::snprintf(text, sizeof(text),
                      "the vertex is %.1f%% below the best run here (%.3f): the parabola's dip "
                      "between sizes, not a run, sets this minimum",
                      100 * (1 - p.loss_opt / best), best);
        note = note.empty() ? text : note + "; " + text;
      }
    }
    table.rows.push_back(
        {flops(p.budget), std::to_string(p.points.size()), fitted ? count(p.params_opt) : kMissing,
         fitted ? count(p.tokens_opt) : kMissing, fitted ? loss(p.loss_opt) : kMissing,
         fitted ? general(p.tokens_opt / p.params_opt) : kMissing,
         fitted ? (p.bracketed ? "yes" : "no") : kMissing, note});
  }
  doc.table(table, "Approach 2 fitted no profiles.");
}

void projections_section(Document& doc, const Analysis& analysis) {
  doc.heading("Projections to targets");
  Table table({"Target", "Approach", "C (FLOPs)", "N (parameters)", "D (tokens)", "D/N",
               "Loss (nats/token)"});
  for (const Projection& p : analysis.projections)
    table.rows.push_back({target_label(p.target), std::to_string(p.approach),
                          with_interval(p.compute, flops), with_interval(p.params, count),
                          with_interval(p.tokens, count),
                          with_interval(p.tokens_per_param, general), with_interval(p.loss, loss)});
  if (!table.rows.empty())
    doc.paragraph(
        "What each approach's laws give at every target: for a compute budget, the "
        "compute-optimal N and D and the loss expected there; for a model given as N and D, its "
        "compute and expected loss.");
  doc.table(table, "No targets were given.");
}

void backtest_section(Document& doc, const Analysis& analysis, const std::vector<Plot>& plots) {
  const Backtest& backtest = analysis.backtest;
  doc.heading("Backtest");
  if (backtest.rows.empty()) {
    doc.paragraph(backtest.why.empty() ? "No budgets were held out for a backtest."
                                       : "No backtest: " + backtest.why);
    return;
  }
  std::string fitted, held_out;
  for (double b : backtest.fitted_budgets) fitted += (fitted.empty() ? "" : ", ") + flops(b);
  for (double b : backtest.held_out_budgets) held_out += (held_out.empty() ? "" : ", ") + flops(b);
  doc.paragraph("Laws fitted to the budgets " + fitted + " FLOPs predict the held-out " +
                (backtest.held_out_budgets.size() == 1 ? "budget " : "budgets ") + held_out +
                " FLOPs; \"covered\" means the observed value lies inside the prediction's "
                "interval (\"no interval\" without a bootstrap). k = C/(N·D) = " +
                general(backtest.flops_per_param_token) + ", from the fitted runs only.");
  Table table({"Budget C (FLOPs)", "Approach", "Observed N_opt", "Predicted N_opt", "N error",
               "Covered", "Observed loss", "Predicted loss", "Loss error (nats)", "Covered"},
              /*align=*/"r");
  for (const BacktestRow& r : backtest.rows)
    table.rows.push_back(
        {flops(r.budget), std::to_string(r.approach), count(r.observed_params),
         with_interval(r.predicted_params, count),
         std::isfinite(r.params_error) ? printf_number("%+.1f%%", 100 * r.params_error) : kMissing,
         coverage_text(r.params_covered), loss(r.observed_loss),
         with_interval(r.predicted_loss, loss),
         std::isfinite(r.loss_error) ? printf_number("%+.3f", r.loss_error) : kMissing,
         std::isfinite(r.loss_error) ? coverage_text(r.loss_covered) : kMissing});
  doc.table(table, "");
  // An approach whose law on the smaller budgets failed has no row: say why.
  for (int approach : analysis.options.approaches) {
    const auto why = backtest.laws.why.find("a" + std::to_string(approach));
    if (why != backtest.laws.why.end()) {
      doc.paragraph("Approach " + std::to_string(approach) +
                    " has no backtest row: on the fitted budgets " + why->second + ".");
    }
  }
  if (const Plot* plot = find_plot(plots, "backtest")) doc.plot(*plot);
}

// "a of b", or "no interval" when no prediction had one.
std::string covered_count(int64_t covered, int64_t intervals) {
  if (intervals == 0) return "no interval";
  return std::to_string(covered) + " of " + std::to_string(intervals);
}

std::string factor(double x) { return std::isfinite(x) ? printf_number("%.3g×", x) : kMissing; }
std::string percent(double share) {
  return std::isfinite(share) ? printf_number("%+.1f%%", 100 * share) : kMissing;
}

// Every split's prediction of every larger budget, the errors grouped by
// extrapolation factor, and why an approach has no rows in a split.
void distance_section(Document& doc, const Analysis& analysis, const std::vector<Plot>& plots) {
  const DistanceBacktest& distance = analysis.distance;
  doc.heading("Error against extrapolation distance");
  if (distance.rows.empty()) {
    doc.paragraph(distance.why.empty() ? "No distance backtest."
                                       : "No distance backtest: " + distance.why);
    return;
  }
  doc.paragraph(
      "For every split, every law is fitted again, with its own bootstrap, to the budgets up to "
      "a largest fitted budget and predicts every larger budget; the factor is the predicted "
      "budget over the largest fitted one. Observed: the predicted budget's own IsoFLOP minimum. "
      "Loss error: predicted − observed, in nats and relative to the observed loss; N error: "
      "predicted / observed − 1. \"Covered\": the observed value lies inside the prediction's " +
      std::string(analysis.noise.measured() ? "interval (loss intervals with the seed noise)."
                                            : "interval."));
  Table table({"Factor", "Fitted budgets ≤", "Budget C (FLOPs)", "Approach", "Predicted loss",
               "Observed loss", "Loss error", "Covered", "Predicted N_opt", "Observed N_opt",
               "N error", "Covered"},
              /*align=*/"r");
  for (const BacktestRow& r : distance.rows) {
    const bool has_loss = std::isfinite(r.loss_error);
    table.rows.push_back(
        {factor(r.extrapolation), flops(r.largest_fitted), flops(r.budget),
         std::to_string(r.approach), with_interval(r.predicted_loss, loss), loss(r.observed_loss),
         has_loss
             ? printf_number("%+.3f", r.loss_error) + " (" + percent(r.loss_relative_error) + ")"
             : kMissing,
         has_loss ? coverage_text(r.loss_covered) : kMissing,
         with_interval(r.predicted_params, count), count(r.observed_params),
         percent(r.params_error), coverage_text(r.params_covered)});
  }
  doc.table(table, "");
  Table summary({"Factor", "Approach", "Predictions", "Mean |loss error|", "Loss covered",
                 "Mean |N error|", "N_opt covered"},
                /*align=*/"r");
  for (const DistanceSummary& s : distance.summary) {
    const auto unsigned_percent = [](double share) {
      return std::isfinite(share) ? printf_number("%.1f%%", 100 * share) : kMissing;
    };
    summary.rows.push_back({factor(s.extrapolation), std::to_string(s.approach),
                            std::to_string(s.rows), unsigned_percent(s.mean_abs_loss_error),
                            covered_count(s.loss_covered, s.loss_intervals),
                            unsigned_percent(s.mean_abs_params_error),
                            covered_count(s.params_covered, s.params_intervals)});
  }
  doc.paragraph("By extrapolation factor (factors within 1.26× of each other are one group):");
  doc.table(summary, "");
  std::vector<std::string> missing;
  for (const BacktestSplit& split : distance.splits) {
    const std::string fitted = "fitted to budgets ≤ " + flops(split.fitted_budgets.back());
    for (const auto& [law, why] : split.why)
      missing.push_back(law == "kaplan"
                            ? fitted + ": approaches 1 and 2 predict no loss: " + why
                            : fitted + ": approach " + law.substr(1) + " has no rows: " + why);
  }
  if (!distance.why.empty()) missing.push_back(distance.why);
  if (!missing.empty()) doc.list(missing);
  if (const Plot* plot = find_plot(plots, "distance")) doc.plot(*plot);
}

// The seed-to-seed noise of the final loss, or one line saying there is none.
void noise_paragraph(Document& doc, const Analysis& analysis) {
  const NoiseFloor& noise = analysis.noise;
  if (!noise.measured()) {
    doc.paragraph(
        "No seed-noise floor was measured: no runs repeat a budget, N and D with other seeds, so "
        "predicted loss intervals are the bootstrap's alone.");
    return;
  }
  char level[32];
  std::snprintf(level, sizeof(level), "%g%%", 100 * analysis.options.confidence);
  doc.paragraph(
      "Seed noise: σ = " + general(noise.loss_sd.value) +
      " nats, the seed-to-seed standard deviation of the final loss pooled over " +
      std::to_string(noise.groups) + " groups of repeated runs (" + std::to_string(noise.runs) +
      " runs). Every predicted loss interval is widened by z·σ = " +
      general(noise.z * noise.loss_sd.value) +
      " nats in quadrature (z = " + printf_number("%.3f", noise.z) + " for " + level + ").");
}

// What extrapolating this study has cost in its own distance backtest, and
// how it widens the projections.
void extrapolation_paragraph(Document& doc, const Analysis& analysis) {
  if (analysis.extrapolation.empty()) return;
  std::string text =
      "Extrapolation error: in the distance backtest the relative loss error grew as c·ln(factor), "
      "c = ";
  for (size_t i = 0; i < analysis.extrapolation.size(); ++i) {
    const ExtrapolationError& e = analysis.extrapolation[i];
    text += (i ? ", " : "") + printf_number("%.4f", e.c) + " (approach " +
            std::to_string(e.approach) + ", " + std::to_string(e.rows) + " rows)";
  }
  text +=
      ". Every projected loss beyond the largest budget (factor F = C / largest budget) has z·c·ln F "
      "of its value added to its interval in quadrature, so the intervals carry what extrapolating "
      "this study has cost, not only the bootstrap's spread.";
  doc.paragraph(text);
}

void warnings_section(Document& doc, const Analysis& analysis) {
  doc.heading("Warnings and failures");
  std::vector<std::string> items = analysis.warnings;
  for (const auto& [law, why] : analysis.laws.why) {
    // "a2" repeats the warning "approach 2 not fitted: ..." when there is one.
    const std::string approach = "approach " + law.substr(1) + " not fitted: " + why;
    if (std::find(items.begin(), items.end(), approach) == items.end())
      items.push_back(law + " not fitted: " + why);
  }
  if (items.empty()) items.push_back("No warnings.");
  doc.list(items);
  Table failures({"Law", "Replicates that failed", "Replicates run"});
  for (const auto& [law, failed] : analysis.replicate_failures)
    failures.rows.push_back(
        {law, std::to_string(failed), std::to_string(analysis.replicates_done)});
  doc.table(failures, analysis.replicates_done > 0
                          ? "Every law was fitted in every bootstrap replicate."
                          : "No bootstrap replicates were run.");
}

void quantities_section(Document& doc, const Analysis& analysis) {
  doc.heading("All quantities");
  Table table({"Key", "Quantity", "Value", "Interval", "Replicates"}, /*align=*/"ll");
  for (const Quantity& q : analysis.quantities) {
    const bool interval = std::isfinite(q.lo) && std::isfinite(q.hi);
    // A label that only repeats the key says nothing.
    table.rows.push_back({q.key, q.label == q.key ? "" : q.label, general(q.value),
                          interval ? "[" + general(q.lo) + ", " + general(q.hi) + "]" : kMissing,
                          std::to_string(q.replicates)});
  }
  doc.table(table, "The analysis reported no quantities.");
}

// Kaplan's single-variable laws through approach 2's minima; a law that could
// not be fitted (or contradicted its definition) is a row with the reason.
void kaplan_section(Document& doc, const Analysis& analysis) {
  doc.heading("Kaplan-style laws on the compute frontier");
  doc.paragraph(
      "L(x) = E + (x_c/x)^α through approach 2's IsoFLOP minima, for x = N_opt, "
      "D_opt and C; without and with the irreducible term E.");
  Table table({"Law", "α", "x_c", "E"}, /*align=*/"lrrr");
  const std::pair<const char*, const char*> forms[] = {{"kaplan", ""},
                                                       {"kaplan_offset", " with E"}};
  const std::pair<const char*, const char*> variables[] = {
      {"params", "L(N)"}, {"tokens", "L(D)"}, {"compute", "L(C)"}};
  for (const auto& [form, suffix] : forms) {
    for (const auto& [x, name] : variables) {
      const std::string key = std::string(form) + "." + x;
      const Quantity* exponent_q = analysis.find(key + ".exponent");
      if (exponent_q == nullptr) continue;
      const Quantity* e = analysis.find(key + ".E");
      table.rows.push_back({std::string(name) + suffix, with_interval(*exponent_q, exponent),
                            with_interval(analysis.find(key + ".scale"), flops),
                            e ? with_interval(*e, loss) : "0"});
    }
    const auto why = analysis.laws.why.find(form);
    if (why != analysis.laws.why.end())
      table.rows.push_back({std::string("not fitted") + suffix, kMissing, kMissing, why->second});
  }
  doc.table(table, "");
  if (!analysis.laws.frontier_loss_choice.empty())
    doc.paragraph("Approaches 1 and 2 project loss with L(C) " +
                  analysis.laws.frontier_loss_choice +
                  " (the lower small-sample AIC; docs/fit.md).");
}

// The report's blocks; a terminal's (`sweepd fit`) has no plots (`plots`
// empty) and no table of every quantity (`all_quantities` false).
Document build_document(const FitData& data, const Analysis& analysis,
                        const std::vector<Plot>& plots, const std::string& json_name,
                        bool all_quantities = true) {
  Document doc;
  data_section(doc, data);
  tuning_section(doc, data);
  noise_paragraph(doc, analysis);
  extrapolation_paragraph(doc, analysis);
  verification_section(doc, data, analysis);
  headline_section(doc, data, analysis);
  plot_section(doc, plots, "profiles");
  if (find_plot(plots, "profiles") == nullptr) doc.heading("IsoFLOP profiles (approach 2)");
  profiles_table(doc, data, analysis);
  kaplan_section(doc, analysis);
  plot_section(doc, plots, "optimal-params");
  plot_section(doc, plots, "optimal-tokens");
  plot_section(doc, plots, "frontier");
  projections_section(doc, analysis);
  plot_section(doc, plots, "curves");
  plot_section(doc, plots, "residuals");
  backtest_section(doc, analysis, plots);
  distance_section(doc, analysis, plots);
  warnings_section(doc, analysis);
  if (all_quantities) quantities_section(doc, analysis);
  doc.paragraph("Analysis time " + format_duration(analysis.seconds) +
                ". Every number above is in " + json_name + ".");
  return doc;
}

// ---------------------------------------------------------------- files

// Writes every file as <path>.tmp, then renames them all: an error leaves
// the previous report (or none), never a mix of half-written files.
void write_files(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::string> temporaries;
  auto discard = [&](size_t from) {
    std::error_code ignored;
    for (size_t i = from; i < temporaries.size(); ++i)
      std::filesystem::remove(temporaries[i], ignored);
  };
  for (const auto& [path, text] : files) {
    const std::string temporary = path + ".tmp";
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (out) {
      temporaries.push_back(temporary);
      out << text;
      out.close();
    }
    if (!out) {
      const std::string reason = std::strerror(errno);
      discard(0);
      throw UserError(path + ": cannot write the report: " + reason);
    }
  }
  for (size_t i = 0; i < files.size(); ++i) {
    std::error_code error;
    std::filesystem::rename(temporaries[i], files[i].first, error);
    if (error) {
      discard(i);
      throw UserError(files[i].first + ": cannot write the report: " + error.message());
    }
  }
}

// The report's files: <base>.html, .md, .json and each drawn plot's SVG,
// written whole or not at all (write_files).
ReportFiles write_report_files(const std::string& base, const std::string& title,
                               const Document& doc, const std::string& json,
                               const std::vector<const Plot*>& plots) {
  const std::string name = std::filesystem::path(base).filename().string();
  ReportFiles report{base + ".html", base + ".md", base + ".json", {}};
  std::vector<std::pair<std::string, std::string>> files = {
      {report.html, render_html(title, doc)},
      {report.markdown, render_markdown(title, doc, name + "-")},
      {report.json, json}};
  for (const Plot* plot : plots)
    if (!plot->svg.empty()) {
      report.plots.push_back(base + "-" + plot->name + ".svg");
      files.push_back({report.plots.back(), plot->svg});
    }
  write_files(files);
  // A plot drawn by an earlier report of the same name but omitted now would
  // otherwise sit beside the Markdown as if it were current.
  for (const Plot* plot : plots)
    if (plot->svg.empty()) {
      std::error_code ignored;
      std::filesystem::remove(base + "-" + plot->name + ".svg", ignored);
    }
  return report;
}

std::string source_name(const FitData& data) {
  return std::filesystem::path(data.source).filename().string();
}

// ---------------------------------------------------------------- variants

// A variant's name as a file-name and HTML-id part: letters, digits, '-'.
std::string slug(const std::string& name) {
  std::string out;
  for (char c : name)
    out += std::isalnum(static_cast<unsigned char>(c))
               ? char(std::tolower(static_cast<unsigned char>(c)))
               : '-';
  return out.empty() ? "unnamed" : out;
}

std::string settings_text(const std::map<std::string, std::string>& keys) {
  std::string text;
  for (const auto& [key, value] : keys) text += (text.empty() ? "" : ", ") + key + " = " + value;
  return text.empty() ? kMissing : text;
}

void variants_overview(Document& doc, const VariantStudy& study) {
  const FitData& data = study.data;
  doc.heading("Variants");
  doc.paragraph("Source: " + data.source + ". " + std::to_string(study.variants.size()) +
                " variants, each fitted on its own runs exactly as a study of one variant is "
                "(its sections below are headed by its name, its bootstrap has a seed of its "
                "own), then compared (\"Comparison of variants\", at the end).");
  Table table({"Variant", "Runs fitted", "Budgets", "Not fitted", "Architecture ([model])",
               "Recipe ([train])", "How lr was chosen"},
              /*align=*/"lrrrlll");
  for (const VariantFit& v : study.variants)
    table.rows.push_back({variant_label(v.name), std::to_string(v.data.points.size()),
                          std::to_string(v.data.budgets.size()),
                          std::to_string(v.data.excluded.size()), settings_text(v.info.model),
                          settings_text(v.info.train),
                          v.info.lr_note.empty() ? kMissing : v.info.lr_note});
  doc.table(table, "");
  if (data.variants.empty())
    doc.paragraph("The input names its variants only (a table's variant column): their "
                  "settings are not known, so the comparison cannot say which differences are "
                  "architecture and which recipe.");
  Table excluded({"Run", "Why it was not fitted"}, /*align=*/"ll");
  for (const Excluded& e : data.excluded)
    if (e.variant.empty()) excluded.rows.push_back({e.run_id, e.reason});
  if (!excluded.rows.empty()) {
    doc.paragraph("Runs not fitted that belong to no variant:");
    doc.table(excluded, "");
  }
  if (!data.predictions.empty())
    doc.paragraph(std::to_string(data.predictions.size()) +
                  " stored predictions are not compared with the runs: a prediction names no "
                  "variant.");
  if (!data.notes.empty()) doc.list(data.notes);
}

// "v [lo, hi]" where the interval may be open: "below X" / "above X".
std::string open_interval(const Interval& i, Formatter format, double searched_lo,
                          double searched_hi) {
  if (!std::isfinite(i.value)) return std::isinf(i.value) ? "∞" : kMissing;
  std::string text = format(i.value);
  if (std::isnan(i.lo) || std::isnan(i.hi)) return text;
  auto bound = [&](double x) {
    if (x == -INFINITY) return "below " + flops(searched_lo);
    if (x == INFINITY) return searched_hi > 0 ? "above " + flops(searched_hi) : std::string("∞");
    return format(x);
  };
  return text + " [" + bound(i.lo) + ", " + bound(i.hi) + "]";
}

std::string multiplier_text(double x) {
  if (!std::isfinite(x)) return kMissing;
  return printf_number("%.3g×", x);
}

void pair_section(Document& doc, const VariantStudy& study, const PairComparison& pair) {
  const std::string a = variant_label(pair.a), b = variant_label(pair.b);
  char level[16];
  std::snprintf(level, sizeof(level), "%g%%", 100 * study.comparison.confidence);
  doc.heading(b + " against " + a);
  // What differs between the two, so a difference in scaling is read against
  // both its possible causes.
  Table differences({"Kind", "Setting", a, b}, /*align=*/"llll");
  for (const SettingDifference& d : pair.differences)
    differences.rows.push_back({d.kind, d.key, d.a.empty() ? "(not set)" : d.a,
                                d.b.empty() ? "(not set)" : d.b});
  if (!differences.rows.empty()) {
    doc.paragraph("What differs between " + a + " and " + b +
                  ": [model] keys are architecture, [train] keys (and how the learning rate "
                  "was chosen) recipe; a difference in their laws may come from either.");
    doc.table(differences, "");
  } else {
    doc.paragraph(study.data.variants.empty()
                      ? "The settings of " + a + " and " + b + " are not known (a table names "
                        "its variants only)."
                      : "No [model] or [train] setting differs between " + a + " and " + b + ".");
  }
  std::string measured = std::isfinite(pair.measured_lo)
                             ? flops(pair.measured_lo) + " to " + flops(pair.measured_hi)
                             : "none (their budgets do not overlap)";
  doc.paragraph("Compute multiplier of " + b + " over " + a + ": how much more compute " + a +
                " needs to reach the loss " + b + " reaches with C (above 1: " + b +
                " is better; ∞: " + a + " never reaches it), with " + level +
                " intervals over " + std::to_string(pair.replicate_pairs) +
                " paired bootstrap replicates. Both were trained from " + measured + ".");
  Table table({"C (FLOPs)", "Where", "Inside the measured range", "L_opt " + a,
               "L_opt " + b, "Multiplier " + b + " over " + a},
              /*align=*/"rllrrr");
  for (const MultiplierRow& r : pair.rows)
    table.rows.push_back({flops(r.compute), r.where, r.measured ? "yes" : "no (extrapolated)",
                          with_interval(Quantity{"", "", r.loss_a.value, r.loss_a.lo,
                                                 r.loss_a.hi, r.loss_a.pairs},
                                        loss),
                          with_interval(Quantity{"", "", r.loss_b.value, r.loss_b.lo,
                                                 r.loss_b.hi, r.loss_b.pairs},
                                        loss),
                          open_interval(r.multiplier, multiplier_text, 0, 0)});
  doc.table(table, "");
  const std::string searched = flops(pair.searched_lo) + " and " + flops(pair.searched_hi);
  if (pair.crossovers.empty()) {
    doc.paragraph("No crossover between " + searched + " FLOPs: " + variant_label(pair.better) +
                  " has the lower loss throughout (" + std::to_string(pair.pairs_crossing) +
                  " of " + std::to_string(pair.replicate_pairs) +
                  " replicate pairs cross in that range).");
    return;
  }
  std::vector<std::string> items;
  for (const Crossover& c : pair.crossovers)
    items.push_back(
        variant_label(c.better_above) + " overtakes " + variant_label(c.better_below) +
        " at C = " + open_interval(c.compute, flops, pair.searched_lo, pair.searched_hi) +
        " FLOPs (" + level + "), " +
        (c.inside_measured ? "inside the measured range (" + measured + ")"
                           : "outside the measured range (" + measured + "): an extrapolation") +
        (c.pairs_below + c.pairs_above > 0
             ? "; " + std::to_string(c.pairs_below + c.pairs_above) + " of " +
                   std::to_string(c.compute.pairs) +
                   " replicate pairs do not cross between " + searched + " (" +
                   std::to_string(c.pairs_below) + " counted below, " +
                   std::to_string(c.pairs_above) + " above)"
             : ""));
  doc.paragraph("Crossovers searched between " + searched + " FLOPs:");
  doc.list(items);
}

void comparison_section(Document& doc, const VariantStudy& study,
                        const std::vector<Plot>& plots) {
  const Comparison& comparison = study.comparison;
  doc.heading("Comparison of variants");
  doc.paragraph(
      std::string("Each variant's compute-optimal loss frontier L_opt(C) = E + (C_c/C)^γ is ") +
      (comparison.source == FrontierSource::kApproach3
           ? "approach 3's loss along its own compute-optimal allocation, "
             "L(N_opt(C), D_opt(C)), γ = αβ/(α+β)"
           : "the L(C) that approaches 1 and 2 project loss with, fitted to its IsoFLOP minima") +
      " (" + comparison.source_why + "); every variant is compared on the same kind of "
      "frontier. Intervals pair replicate i of one variant's bootstrap with replicate i of "
      "the other's (docs/fit.md).");
  Table table({"Variant", "E", "C_c (FLOPs)", "γ", "k = C/(N·D)", "Budgets"}, /*align=*/"lrrrrr");
  for (const VariantFit& v : study.variants) {
    if (!v.frontier) continue;
    table.rows.push_back({variant_label(v.name), loss(v.frontier->E), flops(v.frontier->scale),
                          exponent(v.frontier->exponent), general(v.data.flops_per_param_token),
                          flops(v.data.budgets.front()) + " – " + flops(v.data.budgets.back())});
  }
  doc.table(table, "No variant has a frontier to compare.");
  if (!comparison.not_compared.empty()) {
    doc.paragraph("Not compared:");
    doc.list(comparison.not_compared);
  }
  if (const Plot* plot = find_plot(plots, "comparison-frontiers")) doc.plot(*plot);
  for (const PairComparison& pair : comparison.pairs) pair_section(doc, study, pair);
  if (const Plot* plot = find_plot(plots, "comparison-multiplier")) {
    doc.heading(plot->title);
    doc.plot(*plot);
  }
}

// The whole report of several variants. `variant_plots[i]` are variant i's
// (empty for a terminal); they are renamed <variant>-<plot> here, after the
// variant's document found them by their own names.
Document variants_document(const VariantStudy& study,
                           std::vector<std::vector<Plot>>& variant_plots,
                           const std::vector<Plot>& comparison_plots, const std::string& json_name,
                           bool all_quantities) {
  Document doc;
  variants_overview(doc, study);
  std::map<std::string, int> slugs;
  for (size_t i = 0; i < study.variants.size(); ++i) {
    const VariantFit& v = study.variants[i];
    const std::string label = variant_label(v.name);
    if (!v.analysis) {
      doc.heading(label);
      doc.paragraph("Not fitted: " + v.why);
      continue;
    }
    std::vector<Plot>& plots = variant_plots[i];
    doc.append(build_document(v.data, *v.analysis, plots, json_name, all_quantities),
               label + ": ");
    std::string id = slug(v.name);
    if (slugs[id]++ > 0) id += "-" + std::to_string(i);
    for (Plot& plot : plots) plot.name = id + "-" + plot.name;
  }
  comparison_section(doc, study, comparison_plots);
  return doc;
}

}  // namespace

std::string fit_text(const VariantStudy& study) {
  std::vector<std::vector<Plot>> no_plots(study.variants.size());
  const Document doc = variants_document(study, no_plots, /*comparison_plots=*/{},
                                         "the --json output", /*all_quantities=*/false);
  return study.data.source + "\n" + render_text(doc);
}

std::string fit_text(const FitData& data, const Analysis& analysis) {
  const Document doc =
      build_document(data, analysis, /*plots=*/{}, "the --json output", /*all_quantities=*/false);
  return data.source + "\n" + render_text(doc);
}

ReportFiles write_report(const FitData& data, const Analysis& analysis,
                         const ReportOptions& options) {
  if (options.output_base.empty()) throw UserError("report: no output path given");
  const std::string& base = options.output_base;
  const std::string name = std::filesystem::path(base).filename().string();
  const std::string title = !options.title.empty() ? options.title
                            : data.source.empty()  ? "Scaling-law fit"
                                                   : "Scaling-law fit: " + source_name(data);

  // Everything that can fail for reasons other than the disk (gnuplot, the
  // JSON) happens before the first byte is written.
  const std::vector<Plot> plots = make_plots(data, analysis, options.gnuplot);
  const std::string json =
      with_verification(to_json(data, analysis), data, analysis).dump(2) + "\n";
  const Document doc = build_document(data, analysis, plots, name + ".json");

  std::vector<const Plot*> all;
  for (const Plot& plot : plots) all.push_back(&plot);
  return write_report_files(base, title, doc, json, all);
}

ReportFiles write_report(const VariantStudy& study, const ReportOptions& options) {
  if (options.output_base.empty()) throw UserError("report: no output path given");
  const std::string& base = options.output_base;
  const std::string name = std::filesystem::path(base).filename().string();
  const std::string title = !options.title.empty() ? options.title
                                                   : "Scaling-law fit of " +
                                                         std::to_string(study.variants.size()) +
                                                         " variants: " + source_name(study.data);
  // Every plot first (gnuplot may fail), each variant's in a vector of its
  // own that is not resized afterwards: the document points into them.
  std::vector<std::vector<Plot>> variant_plots(study.variants.size());
  for (size_t i = 0; i < study.variants.size(); ++i) {
    const VariantFit& v = study.variants[i];
    if (v.analysis) variant_plots[i] = make_plots(v.data, *v.analysis, options.gnuplot);
  }
  const std::vector<Plot> comparison = comparison_plots(study, options.gnuplot);
  const std::string json = to_json(study).dump(2) + "\n";
  const Document doc = variants_document(study, variant_plots, comparison, name + ".json",
                                         /*all_quantities=*/true);
  std::vector<const Plot*> all;
  for (const std::vector<Plot>& plots : variant_plots)
    for (const Plot& plot : plots) all.push_back(&plot);
  for (const Plot& plot : comparison) all.push_back(&plot);
  return write_report_files(base, title, doc, json, all);
}

}  // namespace sweep::fit
