#pragma once
// Several variants (model families, or one family's variants) trained on the
// same budgets: each fitted on its own runs exactly as one study is
// (fit/analysis.h), then compared. Which architecture scales better?
//
// The frontier. Each variant's compute-optimal loss L_opt(C) is approach 3's
// loss along its own compute-optimal allocation, L(N_opt(C), D_opt(C)). With
// N_opt = G·(C/k)^a and D_opt = (C/k)^b/G both terms fall as (C/k)^−γ,
// γ = αβ/(α+β), so L_opt(C) = E + (C_c/C)^γ exactly, C_c = k·(A·G^−α + B·G^β)^(1/γ):
// an OffsetPowerLaw in C whose inverse is closed-form. Approach 3 is preferred
// because it models every run and its E bounds the loss a variant can reach,
// which is what decides whether a frontier can catch up with another. Where a
// variant has no usable approach 3, the comparison uses, for every variant, the
// L(C) approaches 1 and 2 project loss with (LawSet::frontier_loss, fitted to
// approach 2's IsoFLOP minima): one source for all, so that two frontiers are
// never compared across two methods. Whichever source more variants have is
// used (approach 3 on a tie); variants without it are listed, not compared.
//
// The compute multiplier of B over A at compute C: how much more compute A
// needs to reach the loss B reaches with C, M = C_A(L_B(C)) / C, with C_A the
// inverse of A's frontier. M > 1 when B is better ("B is worth M× compute");
// M = ∞ when L_B(C) is at or below A's irreducible loss (A never reaches it).
//
// Intervals. Each variant's bootstrap resamples its own runs (the variants'
// runs are independent), with its own seed (the fit's seed mixed with the
// variant's name, so a variant's numbers do not depend on which others share
// the file). The k-th replicate of A that has a frontier is paired with the
// k-th of B that has one: the bootstraps are independent, so every such pair
// is a draw from their joint distribution, and a number's interval is the
// percentile interval over the pairs. Infinite values (M = ∞; a crossover beyond the searched range) are
// kept as such, so an interval may be open on one side.
//
// Crossovers. Where ln L_A(C) − ln L_B(C) changes sign, searched in log C over
// [smallest budget / kSearchBelow, max(largest budget · kSearchAbove, largest
// target)] (two offset power laws cross at most twice). A crossover's interval
// takes, per replicate pair, its crossover nearest (in log C) to the full
// data's; a pair whose frontiers do not cross in the searched range counts as
// a crossover below it (the pair's ordering everywhere is the full data's
// ordering above the crossover) or above it (the ordering below), so the
// interval may be open on that side. "Inside the measured range" means
// between the largest of the two variants' smallest budgets and the smallest
// of their largest budgets: where both were trained.

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fit/analysis.h"
#include "fit/fit_data.h"
#include "fit/laws.h"
#include "fit/options.h"

namespace sweep::fit {

constexpr double kSearchBelow = 10;    // the crossover search starts a decade below the budgets
constexpr double kSearchAbove = 1000;  // ... and ends three decades above them (or at a target)

// Where a frontier comes from (see above).
enum class FrontierSource { kApproach3, kComputeLaw };
const char* to_string(FrontierSource source);  // "approach 3", "L(C)"

// L_opt(C) = E + (C_c/C)^γ from approach 3's law; k in C = k·N·D.
OffsetPowerLaw approach3_frontier(const ParametricLaw& law, double k);
// C with L_opt(C) = loss; +∞ when loss <= E (never reached).
double compute_for_loss(const OffsetPowerLaw& frontier, double loss);

// A value with its percentile interval; lo and hi are NaN without replicate
// pairs, and may be ±∞ (open on that side, see above).
struct Interval {
  double value = NAN, lo = NAN, hi = NAN;
  int64_t pairs = 0;  // replicate pairs (or replicates) that gave it
};

// One variant: its runs, its analysis (or why none), its frontier.
struct VariantFit {
  std::string name;
  VariantInfo info;                  // its settings (name only for a CSV table)
  FitData data;                      // its runs alone (variant_data)
  std::optional<Analysis> analysis;  // empty when no law could be fitted
  std::string why;                   // why not (analyze()'s refusal)
  // The comparison's frontier on all its runs, and per bootstrap replicate
  // (empty where that replicate's law failed). Empty when not compared.
  std::optional<OffsetPowerLaw> frontier;
  std::vector<std::optional<OffsetPowerLaw>> replicate_frontiers;
};

// L_opt(C) of `variant` with its bootstrap interval.
Interval frontier_at(const VariantFit& variant, double compute, double confidence);

// The multiplier of B over A at `compute`, with its interval over the paired
// replicates (see above).
Interval multiplier_at(const VariantFit& a, const VariantFit& b, double compute,
                       double confidence);

// One difference in the two variants' settings.
struct SettingDifference {
  std::string kind;  // "architecture" ([model] keys) or "recipe" ([train] keys, how lr was chosen)
  std::string key;   // "model.n_layer", "train.lr", "train.lr (how chosen)"
  std::string a, b;  // the two values; "" where a variant does not set the key
};

// The multiplier at one compute.
struct MultiplierRow {
  double compute = 0;
  std::string where;      // "budget", "target <name>", "10× the largest budget"
  bool measured = false;  // inside both variants' measured range
  Interval loss_a, loss_b;  // L_A(C), L_B(C), nats per token
  Interval multiplier;      // C_A(L_B(C)) / C; value +∞ when A never reaches L_B(C)
};

struct Crossover {
  Interval compute;              // value: where the full data's frontiers cross
  bool inside_measured = false;  // within both variants' measured range
  std::string better_below, better_above;  // the variant with the lower loss on each side
  int64_t pairs_below = 0, pairs_above = 0;  // replicate pairs without a crossover in the
                                             // searched range, counted below / above it
};

// B compared with A (A the earlier variant in the file's order).
struct PairComparison {
  std::string a, b;
  std::vector<SettingDifference> differences;
  double measured_lo = NAN, measured_hi = NAN;  // both variants' budgets overlap here
  double searched_lo = 0, searched_hi = 0;      // the crossover search's range
  std::vector<MultiplierRow> rows;              // budgets, then targets or extrapolations
  std::vector<Crossover> crossovers;            // ascending; empty: none in the searched range
  std::string better;          // without a crossover: the variant better throughout
  int64_t pairs_crossing = 0;  // without one: replicate pairs that do cross in the range
  int64_t replicate_pairs = 0;  // pairs where both frontiers exist
};

struct Comparison {
  FrontierSource source = FrontierSource::kApproach3;
  std::string source_why;                  // why this source
  double confidence = 0.9;
  std::vector<std::string> compared;       // variants with the source's frontier, in order
  std::vector<std::string> not_compared;   // "name: why"
  std::vector<PairComparison> pairs;       // every pair of compared variants, in order
  double searched_lo = 0, searched_hi = 0;  // the crossover search's range (every pair's)
};

// Several variants fitted and compared; `data` is the whole file (or merge).
struct VariantStudy {
  FitData data;
  AnalysisOptions options;  // as given: each variant's bootstrap seed is variant_seed() of it
  std::vector<VariantFit> variants;  // variant_names(data) order
  Comparison comparison;
};

// The seed of one variant's bootstrap: `seed` mixed with the name (FNV-1a).
uint64_t variant_seed(uint64_t seed, const std::string& variant);

// Fits every variant of `data` (analyze() on variant_data(), each with
// variant_seed()) and compares them. A variant that supports no law is kept
// with analyze()'s reason; throws UserError when no variant can be fitted.
// `log` (may be empty) is told which variant is being fitted.
VariantStudy analyze_variants(const FitData& data, const AnalysisOptions& options,
                              const std::function<void(const std::string&)>& log = {});

// The comparison of already fitted variants (frontiers filled in here).
Comparison compare_variants(std::vector<VariantFit>& variants, const AnalysisOptions& options);

// The keys in which two variants' settings differ, [model] keys first.
std::vector<SettingDifference> setting_differences(const VariantInfo& a, const VariantInfo& b);

// "gpt2" for a named variant, "(unnamed)" for "".
std::string variant_label(const std::string& name);

}  // namespace sweep::fit
