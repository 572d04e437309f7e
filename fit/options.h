#pragma once
// The fit's options and their defaults: the one place these defaults are
// written down. A job file's [fit] section (spec/job_spec.h) and the command
// line (`sweepd fit`, `predict`, `report`, docs/fit.md) start from them and
// override what they set. Header-only, so that readers of job files can use
// the defaults without linking the fits.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fit/parametric_fit.h"

namespace sweep::fit {

// Which points of the training curves approach 1's envelope is made from.
enum class EnvelopeMode {
  kAll,   // every point: annealed run ends and mid-schedule points of longer runs
  kEnds,  // only each run's annealed final point (its cosine schedule finished)
};
inline const char* to_string(EnvelopeMode mode) {
  return mode == EnvelopeMode::kEnds ? "ends" : "all";
}
// "all" or "ends"; false for anything else.
inline bool parse_envelope_mode(const std::string& text, EnvelopeMode* mode) {
  if (text != "all" && text != "ends") return false;
  *mode = text == "ends" ? EnvelopeMode::kEnds : EnvelopeMode::kAll;
  return true;
}

// What N counts. Kaplan et al. (2020) fitted non-embedding parameters, the
// Chinchilla paper total ones; at small scale, where embeddings are a large
// share of N, the choice moves the fitted exponents (Pearce & Song 2024).
// Under kNonEmbedding every point's N is its non-embedding count and k in
// C = k·N·D is the median of C/(N·D) over those counts (fit/fit_data.h).
enum class ParamConvention { kTotal, kNonEmbedding };
inline const char* to_string(ParamConvention c) {
  return c == ParamConvention::kNonEmbedding ? "non-embedding" : "total";
}
// "total" or "non-embedding"; false for anything else.
inline bool parse_param_convention(const std::string& text, ParamConvention* c) {
  if (text != "total" && text != "non-embedding") return false;
  *c = text == "total" ? ParamConvention::kTotal : ParamConvention::kNonEmbedding;
  return true;
}

// A compute budget or a model to project to.
struct Target {
  std::string name;    // label in reports ("" = made from the numbers)
  double compute = 0;  // FLOPs; 0 when given as (params, tokens)
  double params = 0;
  double tokens = 0;
};

// holdout_budgets' default: hold out the largest budget when at least 2
// budgets remain to fit.
constexpr int64_t kDefaultHoldout = -1;
inline int64_t default_holdout_budgets(size_t budgets) { return budgets >= 3 ? 1 : 0; }

struct AnalysisOptions {
  std::vector<int> approaches = {1, 2, 3};     // 1 envelope, 2 IsoFLOP parabolas, 3 parametric
  int64_t bootstrap = 1000;                    // replicates for the intervals; 0 = no intervals
  double confidence = 0.9;                     // two-sided percentile interval level
  int64_t holdout_budgets = kDefaultHoldout;   // largest budgets held out for the backtest;
                                               // kDefaultHoldout = default_holdout_budgets()
  bool distance_backtest = true;               // predict every larger budget from every split
                                               // (needs >= 3 budgets; fit/analysis.h)
  EnvelopeMode envelope = EnvelopeMode::kAll;  // approach 1's points
  std::vector<Target> targets;                 // projections (the job's [fit] targets)
  uint64_t seed = 20220329;                    // bootstrap resampling
  int threads = 0;                             // 0 = hardware threads
  ParametricFitOptions parametric;             // approach 3 (fit/parametric_fit.h)
};

}  // namespace sweep::fit
