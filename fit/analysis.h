#pragma once
// The whole fit stage: every law on one data set, bootstrap intervals, the
// backtest and the projections to targets. `sweepd fit`, `predict` and
// `report` print or draw an Analysis.
//
// Bootstrap: each replicate resamples runs with replacement *within each
// IsoFLOP budget* (so every profile keeps its size), refits every law and
// recomputes every reported number; a number's interval is the percentile
// interval of its replicates. Approach 3 starts each replicate from the full
// data's best distinct optima instead of the 4,500-point grid (docs/fit.md).
// A replicate in which a law cannot be fitted (a resampled profile without a
// minimum) is left out of that law's intervals and counted.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fit/fit_data.h"
#include "fit/laws.h"
#include "fit/parametric_fit.h"

namespace sweep::fit {

// A compute budget or a model to project to.
struct Target {
  std::string name;    // label in reports ("" = made from the numbers)
  double compute = 0;  // FLOPs; 0 when given as (params, tokens)
  double params = 0;
  double tokens = 0;
};

struct AnalysisOptions {
  std::vector<int> approaches = {1, 2, 3};
  int64_t bootstrap = 1000;     // replicates; 0 = no intervals
  double confidence = 0.9;      // two-sided interval level
  int64_t holdout_budgets = 0;  // largest budgets held out for the backtest
  std::vector<Target> targets;
  uint64_t seed = 20220329;  // bootstrap resampling
  int threads = 0;           // 0 = hardware threads
  ParametricFitOptions parametric;
};

// One IsoFLOP profile under approach 2.
struct Profile {
  double budget = 0;
  std::vector<int64_t> points;  // indices into FitData::points
  std::optional<Parabola> parabola;
  std::string why;                                      // why there is no parabola / minimum
  double params_opt = 0, tokens_opt = 0, loss_opt = 0;  // at the vertex
  bool bracketed = false;                               // vertex within the sizes trained
};

// Approach 1's envelope: for each FLOP value, the run with the lowest
// (smoothed) training loss there.
struct Envelope {
  std::vector<double> flops, params, tokens, loss;
};

// Every law fitted to one data set (the full data, a replicate, or the
// backtest's smaller budgets). A law that could not be fitted is empty, with
// the reason in `why`.
struct LawSet {
  // Approach 1
  Envelope envelope;
  std::optional<PowerLaw> a1_params, a1_tokens;
  // Approach 2
  std::vector<Profile> profiles;
  std::optional<PowerLaw> a2_params, a2_tokens;
  // Approach 3
  std::optional<ParametricFit> a3;
  // Kaplan-style laws on the compute frontier (approach 2's minima):
  // L(N_opt), L(D_opt), L(C), each with and without the irreducible term.
  std::optional<OffsetPowerLaw> kaplan_params, kaplan_tokens, kaplan_compute;
  std::optional<OffsetPowerLaw> kaplan_params_offset, kaplan_tokens_offset, kaplan_compute_offset;
  std::map<std::string, std::string> why;  // law name -> why it is missing
};

// One reported number with its interval.
struct Quantity {
  std::string key;         // stable name, e.g. "a3.alpha", "target.1e+20.a2.params"
  std::string label;       // for people, e.g. "α (approach 3)"
  double value = 0;        // from the full data
  double lo = 0, hi = 0;   // bootstrap percentile interval (NaN without bootstrap)
  int64_t replicates = 0;  // replicates that gave this number
};

// Projections for one target, per approach.
struct Projection {
  Target target;
  int approach = 0;  // 1, 2, 3
  Quantity params, tokens, tokens_per_param, loss, compute;
};

// Fit on the smaller budgets, predict each held-out budget.
struct BacktestRow {
  double budget = 0;
  int approach = 0;
  double observed_params = 0, observed_loss = 0;  // the held-out profile's own minimum
  Quantity predicted_params, predicted_loss;
  double params_error = 0;  // predicted / observed − 1
  double loss_error = 0;    // predicted − observed (nats)
  bool params_covered = false, loss_covered = false;
};
struct Backtest {
  std::vector<double> fitted_budgets, held_out_budgets;
  std::vector<BacktestRow> rows;
  LawSet laws;      // fitted to the smaller budgets
  std::string why;  // why there is no backtest
};

// The laws of one bootstrap replicate, kept so that anything derived from
// them later (a plot's band, predict's numbers) gets an interval too.
struct ReplicateLaws {
  std::optional<PowerLaw> a1_params, a1_tokens, a2_params, a2_tokens;
  std::optional<ParametricLaw> a3;
  std::optional<OffsetPowerLaw> frontier_loss;  // L(C) on approach 2's minima
};

// The value of f on the full data's laws and its percentile interval over the
// replicates where f is finite. f returns NaN where it cannot be computed.
Quantity interval_of(const std::string& key, const ReplicateLaws& full,
                     const std::vector<ReplicateLaws>& replicates, double confidence,
                     const std::function<double(const ReplicateLaws&)>& f);

struct Analysis {
  AnalysisOptions options;
  double flops_per_param_token = 6;
  LawSet laws;                            // on all the data
  ReplicateLaws full;                     // the same laws in the replicates' form
  std::vector<ReplicateLaws> replicates;  // one per bootstrap replicate
  std::vector<Quantity> quantities;       // every reported number, with intervals
  std::vector<Projection> projections;
  Backtest backtest;
  int64_t replicates_done = 0;
  std::map<std::string, int64_t> replicate_failures;  // law -> replicates that failed
  std::vector<std::string> warnings;
  double seconds = 0;  // wall time of the whole analysis

  const Quantity* find(const std::string& key) const;
};

// Throws UserError when the data cannot support any requested approach (one
// budget, too few runs), naming what is missing.
Analysis analyze(const FitData& data, const AnalysisOptions& options);

}  // namespace sweep::fit
