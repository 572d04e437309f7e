#pragma once
// Every law fitted to one set of runs: the full data, a bootstrap replicate,
// or the backtest's smaller budgets (fit/analysis.h runs these).
//
// A law that cannot be fitted, or whose fit contradicts its own definition,
// is empty, with the reason in LawSet::why; it is never a number:
//   - approach 1 and 2: N_opt ∝ C^a and D_opt ∝ C^b need 0 < a < 1 and
//     0 < b < 1 (both grow with compute, each more slowly than C);
//   - an IsoFLOP profile needs its runs at one compute (their FLOPs within
//     kFixedComputeFactor of each other), at least 3 sizes and a minimum;
//   - Kaplan's L(x) = E + (x_c/x)^α needs α > 0 (the loss falls with x);
//   - approach 3 needs a usable() optimum (fit/parametric_fit.h) and runs
//     whose N and D vary independently (not all on one line C = k·N·D).
//
// Approach 1's envelope (docs/fit.md): in EnvelopeMode::kAll, at each of
// 1,500 log-spaced FLOP values the run with the lowest smoothed training loss
// there; a point is an annealed run end when it lies in the last
// (1 − kAnnealedShare) of that run's FLOPs (its cosine schedule has finished:
// the learning rate is within 0.3% of its floor), else it is a mid-schedule
// point of a longer run. In EnvelopeMode::kEnds only run ends are used: each
// budget's lowest-loss end, kept when it is lower than every smaller budget's.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fit/fit_data.h"
#include "fit/laws.h"
#include "fit/options.h"
#include "fit/parametric_fit.h"

namespace sweep::fit {

constexpr double kFixedComputeFactor = 1.1;  // largest C / smallest C within one profile
constexpr double kAnnealedShare = 0.99;      // a run end: past 99% of the run's FLOPs

// One IsoFLOP profile under approach 2.
struct Profile {
  double budget = 0;
  std::vector<int64_t> points;  // indices into FitData::points
  std::optional<Parabola> parabola;
  std::string why;                                      // why there is no parabola / minimum
  double params_opt = 0, tokens_opt = 0, loss_opt = 0;  // at the vertex
  bool bracketed = false;                               // vertex within the sizes trained
};

// Approach 1's envelope (see above), one entry per point.
struct Envelope {
  EnvelopeMode mode = EnvelopeMode::kAll;
  std::vector<double> flops, params, tokens, loss;
  std::vector<bool> run_end;  // an annealed run end, else a mid-schedule point
  int64_t run_ends() const;
};

struct LawSet {
  // Approach 1
  Envelope envelope;
  std::optional<PowerLaw> a1_params, a1_tokens;
  // Approach 2
  std::vector<Profile> profiles;
  std::optional<PowerLaw> a2_params, a2_tokens;
  // Approach 3: the fit whenever one was run, usable or not (its summary is
  // reported either way); only usable_a3() may be printed or projected.
  std::optional<ParametricFit> a3;
  const ParametricFit* usable_a3() const { return a3 && a3->usable() ? &*a3 : nullptr; }
  // Kaplan-style laws on the compute frontier (approach 2's minima):
  // L(N_opt), L(D_opt), L(C), each with and without the irreducible term.
  std::optional<OffsetPowerLaw> kaplan_params, kaplan_tokens, kaplan_compute;
  std::optional<OffsetPowerLaw> kaplan_params_offset, kaplan_tokens_offset, kaplan_compute_offset;
  // The L(C) that approaches 1 and 2 project loss with: the one of the two
  // with the lower AICc on the minima (law_set.cc), and why.
  std::optional<OffsetPowerLaw> frontier_loss;
  std::string frontier_loss_choice;
  // law name -> why it is missing: "a1", "a2", "a3", "kaplan" (the plain
  // laws), "kaplan_offset" (with E).
  std::map<std::string, std::string> why;
};

// Each run's training curve, smoothed (a centred moving average over ±2% of
// its records) and read at approach 1's FLOP grid.
struct CurveGrid {
  std::vector<double> flops;             // the grid: smallest to largest budget
  std::vector<std::vector<float>> loss;  // per point of FitData (empty: no curve); NaN off the run
  std::vector<double> end_flops, end_loss;  // per point: last record, smoothed loss there
};
CurveGrid make_curve_grid(const FitData& data);

// Fits every requested law to the runs `sample` (indices into data.points,
// repeats allowed). For a bootstrap replicate `reference` is the full data's
// laws: a law that failed there is not refitted; approach 3 starts from its
// best optima; approach 2 goes through the same budgets' minima and fails
// when a budget that had a minimum lost it.
LawSet fit_laws(const FitData& data, const CurveGrid& grid, const std::vector<int64_t>& sample,
                const AnalysisOptions& options, const LawSet* reference);

}  // namespace sweep::fit
