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
// A replicate in which a law cannot be fitted (a resampled profile that lost
// its minimum, an unusable approach-3 optimum) is left out of that law's
// intervals and counted in replicate_failures. A law that could not be fitted
// to all the data is not refitted in the replicates at all.
//
// Backtest coverage is three-valued: without a bootstrap (or with too few
// replicates) a prediction has no interval, which is neither "covered" nor
// "not covered".
//
// Backtests (docs/fit.md): a *split* fits every law, with its own bootstrap,
// to the smallest budgets only and predicts every larger budget; the truth is
// that budget's own IsoFLOP minimum from all its runs. The headline Backtest
// is the split that holds out the `holdout_budgets` largest budgets; the
// distance backtest is every split that leaves at least 2 budgets to fit and
// 1 to predict, so that errors can be read against the extrapolation factor
// C_predicted / C_largest_fitted. The two share their splits' fits.
//
// Seed noise: runs with equal budget, N and D (repeats of one run with other
// seeds) give the pooled seed-to-seed standard deviation σ of the final
// loss. Every predicted loss interval (projections, backtests) is then
// widened in quadrature by z·σ, z the normal quantile of the confidence
// level: the law predicts the mean over seeds, one run scatters around it.

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fit/fit_data.h"
#include "fit/law_set.h"
#include "fit/laws.h"
#include "fit/options.h"
#include "fit/parametric_fit.h"

namespace sweep::fit {

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

// Whether a prediction's interval contains the observed value.
enum class Coverage { kCovered, kNotCovered, kNoInterval };
const char* to_string(Coverage coverage);  // "covered", "not covered", "no interval"
Coverage coverage_of(const Quantity& predicted, double observed);

// One prediction of a backtest: laws fitted to the budgets up to
// `largest_fitted` predict the larger budget `budget`.
struct BacktestRow {
  double budget = 0;          // the budget predicted (not fitted)
  double largest_fitted = 0;  // the largest budget the laws were fitted to
  double extrapolation = 0;   // budget / largest_fitted
  int approach = 0;
  double observed_params = 0, observed_loss = 0;  // the predicted profile's own minimum
  Quantity predicted_params, predicted_loss;      // predicted_loss with the seed noise
  double params_error = 0;                        // predicted / observed − 1
  double loss_error = 0;           // predicted − observed (nats); NaN without a predicted loss
  double loss_relative_error = 0;  // loss_error / observed_loss
  Coverage params_covered = Coverage::kNoInterval, loss_covered = Coverage::kNoInterval;
};
// Fit on the smaller budgets, predict each held-out budget.
struct Backtest {
  std::vector<double> fitted_budgets, held_out_budgets;
  double flops_per_param_token = 6;  // k of the fitted runs only (the held-out ones unseen)
  std::vector<BacktestRow> rows;
  LawSet laws;      // fitted to the smaller budgets
  std::string why;  // why there is no backtest
};

// One split of the distance backtest: the laws fitted to its budgets.
struct BacktestSplit {
  std::vector<double> fitted_budgets;  // the smallest budgets, ascending
  double flops_per_param_token = 6;    // k of the fitted runs only
  // Approach ("a1", "a2", "a3") -> why it has no rows in this split; "kaplan"
  // -> why approaches 1 and 2 predict no loss (their loss is Kaplan's L(C)).
  std::map<std::string, std::string> why;
};

// The distance backtest's rows of one approach whose extrapolation factors
// are alike: grouped as budgets are (infer_budgets: no group spans more than
// a factor 1.26), so a regular grid's factors 3.16, 10, ... each form one.
struct DistanceSummary {
  double extrapolation = 0;  // the group's geometric mean factor
  int approach = 0;
  int64_t rows = 0;
  // Means over the rows that have the number, as shares (0.01 = 1%); NaN if none.
  double mean_abs_loss_error = NAN;              // |predicted − observed| / observed loss
  double mean_abs_params_error = NAN;            // |predicted / observed − 1| of N_opt
  int64_t loss_intervals = 0, loss_covered = 0;  // rows with an interval; covered among them
  int64_t params_intervals = 0, params_covered = 0;
};

struct DistanceBacktest {
  std::vector<BacktestSplit> splits;     // fewest fitted budgets first
  std::vector<BacktestRow> rows;         // by split, then predicted budget, then approach
  std::vector<DistanceSummary> summary;  // by extrapolation factor, then approach
  std::string why;  // why there is none, or which budgets have no minimum to predict
};

// The seed-to-seed noise of the final loss, from repeated runs.
struct NoiseFloor {
  int64_t groups = 0;  // groups of >= 2 runs with equal budget, N and D
  int64_t runs = 0;    // the runs in those groups
  // σ: sqrt(Σ_groups Σ_runs (loss − group mean)² / (runs − groups)), nats;
  // key "noise.loss_sd", NaN bounds (no interval). Value NaN without repeats.
  Quantity loss_sd{"noise.loss_sd", "", NAN, NAN, NAN, 0};
  double z = 0;  // normal quantile of the confidence level (1.645 for 90%)
  bool measured() const { return groups > 0 && std::isfinite(loss_sd.value); }
};
// Pooled over every group of repeats in `data`; z from `confidence`.
NoiseFloor seed_noise(const FitData& data, double confidence);
// A predicted loss with the seed noise: each half-width h of its interval
// becomes sqrt(h² + (z·σ)²) around the same value. Unchanged without
// repeats or without an interval.
Quantity with_seed_noise(const Quantity& predicted_loss, const NoiseFloor& noise);

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

// The extrapolation error the study's own distance backtest measured, per
// approach: relative loss errors r at factors F (predicted budget / largest
// fitted) modelled as r ~ Normal(0, (c ln F)^2), c by maximum likelihood,
// c = sqrt(mean((r / ln F)^2)). A projection to compute C, F = C / the
// largest budget, then gets z c ln F x loss added to its interval in
// quadrature: intervals widened by what extrapolating this study has cost,
// not only by the fit's own spread.
struct ExtrapolationError {
  int approach = 0;
  double c = NAN;    // relative loss error per unit of ln(factor)
  int64_t rows = 0;  // backtest rows it is measured from
};
ExtrapolationError extrapolation_error(const DistanceBacktest& distance, int approach);
// `loss` (a projection's, at factor F = compute / largest budget) widened by
// z c ln F in quadrature; unchanged for F <= 1 or an unmeasured c.
Quantity with_extrapolation_error(const Quantity& loss, double factor,
                                  const ExtrapolationError& error, double z);

struct Analysis {
  AnalysisOptions options;
  double flops_per_param_token = 6;
  LawSet laws;                            // on all the data
  ReplicateLaws full;                     // the same laws in the replicates' form
  std::vector<ReplicateLaws> replicates;  // one per bootstrap replicate
  std::vector<Quantity> quantities;       // every reported number, with intervals
  std::vector<Projection> projections;    // loss intervals with seed noise and extrapolation error
  Backtest backtest;
  DistanceBacktest distance;
  NoiseFloor noise;
  std::vector<ExtrapolationError> extrapolation;  // per approach with backtest rows
  int64_t replicates_done = 0;
  std::vector<int> bootstrapped;                      // approaches refitted in the replicates
  std::map<std::string, int64_t> replicate_failures;  // law -> replicates left out of it
  std::vector<std::string> warnings;
  double seconds = 0;  // wall time of the whole analysis

  const Quantity* find(const std::string& key) const;
};

// Throws UserError when the data cannot support any requested approach (one
// budget, too few runs), naming what is missing.
Analysis analyze(const FitData& data, const AnalysisOptions& options);

}  // namespace sweep::fit
