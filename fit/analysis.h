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

// Fit on the smaller budgets, predict each held-out budget.
struct BacktestRow {
  double budget = 0;
  int approach = 0;
  double observed_params = 0, observed_loss = 0;  // the held-out profile's own minimum
  Quantity predicted_params, predicted_loss;
  double params_error = 0;  // predicted / observed − 1
  double loss_error = 0;    // predicted − observed (nats); NaN without a predicted loss
  Coverage params_covered = Coverage::kNoInterval, loss_covered = Coverage::kNoInterval;
};
struct Backtest {
  std::vector<double> fitted_budgets, held_out_budgets;
  double flops_per_param_token = 6;  // k of the fitted runs only (the held-out ones unseen)
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
