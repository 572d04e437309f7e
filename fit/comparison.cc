#include "fit/comparison.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "common/error.h"
#include "common/format.h"

namespace sweep::fit {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
// Grid of the crossover search: 40 points per decade of C, then bisection. Two
// offset power laws cross at most twice, far more than a grid step apart
// unless they only touch.
constexpr double kSearchPointsPerDecade = 40;
constexpr int kBisections = 60;

// The percentile of sorted values that may hold ±∞ (the analysis' own
// percentile interpolates between finite values only): linear between finite
// neighbours, the nearer rank where a neighbour is infinite.
double percentile_of(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return NAN;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= sorted.size()) return sorted.back();
  const double t = pos - static_cast<double>(i);
  if (!std::isfinite(sorted[i]) || !std::isfinite(sorted[i + 1]))
    return t < 0.5 ? sorted[i] : sorted[i + 1];
  return sorted[i] + t * (sorted[i + 1] - sorted[i]);
}

// `value` with the percentile interval of `samples` (NaNs left out).
Interval interval_over(double value, std::vector<double> samples, double confidence) {
  Interval out;
  out.value = value;
  samples.erase(std::remove_if(samples.begin(), samples.end(),
                               [](double x) { return std::isnan(x); }),
                samples.end());
  out.pairs = static_cast<int64_t>(samples.size());
  if (samples.size() < 2) return out;
  std::sort(samples.begin(), samples.end());
  out.lo = percentile_of(samples, (1 - confidence) / 2);
  out.hi = percentile_of(samples, 1 - (1 - confidence) / 2);
  return out;
}

// ln L_A(C) − ln L_B(C) at ln C = x: positive where B is better.
double log_gap(const OffsetPowerLaw& a, const OffsetPowerLaw& b, double x) {
  const double c = std::exp(x);
  return std::log(a.at(c)) - std::log(b.at(c));
}

// Every ln C in [ln lo, ln hi] where the two frontiers cross, ascending.
std::vector<double> crossings(const OffsetPowerLaw& a, const OffsetPowerLaw& b, double lo,
                              double hi) {
  const double x0 = std::log(lo), x1 = std::log(hi);
  const int steps =
      std::max(2, static_cast<int>(std::ceil(std::log10(hi / lo) * kSearchPointsPerDecade)));
  std::vector<double> out;
  double previous_x = x0, previous = log_gap(a, b, x0);
  for (int i = 1; i <= steps; ++i) {
    const double x = x0 + (x1 - x0) * i / steps;
    const double gap = log_gap(a, b, x);
    if (std::isfinite(gap) && std::isfinite(previous) && (gap > 0) != (previous > 0)) {
      double l = previous_x, r = x;
      const bool left_positive = previous > 0;
      for (int k = 0; k < kBisections; ++k) {
        const double m = 0.5 * (l + r);
        ((log_gap(a, b, m) > 0) == left_positive ? l : r) = m;
      }
      out.push_back(0.5 * (l + r));
    }
    previous_x = x, previous = gap;
  }
  return out;
}

bool within(double x, double lo, double hi) {
  return std::isfinite(lo) && x >= lo * (1 - 1e-9) && x <= hi * (1 + 1e-9);
}

const std::string& why_of(const LawSet& laws, const std::string& law) {
  static const std::string kNone = "not requested";
  const auto it = laws.why.find(law);
  return it == laws.why.end() ? kNone : it->second;
}

// The evaluation points of a pair: both variants' budgets, then the compute
// targets or, without any, 10× and 100× the largest budget.
std::vector<std::pair<double, std::string>> evaluation_points(const VariantFit& a,
                                                              const VariantFit& b,
                                                              const AnalysisOptions& options) {
  std::vector<double> budgets = a.data.budgets;
  budgets.insert(budgets.end(), b.data.budgets.begin(), b.data.budgets.end());
  std::sort(budgets.begin(), budgets.end());
  std::vector<std::pair<double, std::string>> points;
  for (double c : budgets)
    if (points.empty() || c > points.back().first * 1.01) points.push_back({c, "budget"});
  const double largest = budgets.empty() ? 0 : budgets.back();
  bool any_target = false;
  for (const Target& t : options.targets) {
    if (!(t.compute > 0)) continue;
    any_target = true;
    points.push_back({t.compute, "target" + (t.name.empty() ? "" : " " + t.name)});
  }
  if (!any_target && largest > 0) {
    points.push_back({10 * largest, "10× the largest budget"});
    points.push_back({100 * largest, "100× the largest budget"});
  }
  return points;
}

// Replicate pairs (index in a, index in b): the k-th replicate of A that has
// a frontier with the k-th of B that has one. The two bootstraps are
// independent, so any such pairing is a draw from their joint distribution;
// pairing by successes rather than by index keeps every replicate a variant
// with frequent failures (approach 2 on few sizes) has.
std::vector<std::pair<size_t, size_t>> paired_replicates(const VariantFit& a, const VariantFit& b) {
  std::vector<size_t> in_a, in_b;
  for (size_t i = 0; i < a.replicate_frontiers.size(); ++i)
    if (a.replicate_frontiers[i]) in_a.push_back(i);
  for (size_t i = 0; i < b.replicate_frontiers.size(); ++i)
    if (b.replicate_frontiers[i]) in_b.push_back(i);
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t k = 0; k < std::min(in_a.size(), in_b.size()); ++k) out.push_back({in_a[k], in_b[k]});
  return out;
}

PairComparison compare_pair(const VariantFit& a, const VariantFit& b,
                            const AnalysisOptions& options, double searched_lo,
                            double searched_hi) {
  PairComparison pair;
  pair.a = a.name, pair.b = b.name;
  pair.differences = setting_differences(a.info, b.info);
  pair.searched_lo = searched_lo, pair.searched_hi = searched_hi;
  if (!a.data.budgets.empty() && !b.data.budgets.empty()) {
    pair.measured_lo = std::max(a.data.budgets.front(), b.data.budgets.front());
    pair.measured_hi = std::min(a.data.budgets.back(), b.data.budgets.back());
    if (pair.measured_lo > pair.measured_hi) pair.measured_lo = pair.measured_hi = NAN;
  }
  const double confidence = options.confidence;
  const OffsetPowerLaw& fa = *a.frontier;
  const OffsetPowerLaw& fb = *b.frontier;
  const std::vector<std::pair<size_t, size_t>> replicates = paired_replicates(a, b);
  pair.replicate_pairs = static_cast<int64_t>(replicates.size());

  for (const auto& [compute, where] : evaluation_points(a, b, options)) {
    MultiplierRow row;
    row.compute = compute;
    row.where = where;
    row.measured = within(compute, pair.measured_lo, pair.measured_hi);
    row.loss_a = frontier_at(a, compute, confidence);
    row.loss_b = frontier_at(b, compute, confidence);
    row.multiplier = multiplier_at(a, b, compute, confidence);
    pair.rows.push_back(row);
  }

  // Each replicate pair's crossings, once.
  std::vector<std::vector<double>> replicate_crossings;
  for (const auto& [ra, rb] : replicates)
    replicate_crossings.push_back(crossings(*a.replicate_frontiers[ra], *b.replicate_frontiers[rb],
                                            searched_lo, searched_hi));
  const std::vector<double> full = crossings(fa, fb, searched_lo, searched_hi);
  const double step = std::log(10.0) / kSearchPointsPerDecade / 2;
  for (double x0 : full) {
    Crossover crossover;
    const bool b_better_above = log_gap(fa, fb, x0 + step) > 0;
    crossover.better_above = b_better_above ? b.name : a.name;
    crossover.better_below = b_better_above ? a.name : b.name;
    std::vector<double> samples;
    for (size_t i = 0; i < replicates.size(); ++i) {
      const std::vector<double>& xs = replicate_crossings[i];
      if (!xs.empty()) {
        const double nearest = *std::min_element(xs.begin(), xs.end(), [&](double p, double q) {
          return std::abs(p - x0) < std::abs(q - x0);
        });
        samples.push_back(std::exp(nearest));
        continue;
      }
      // No crossing: the pair's ordering is the same everywhere in the range.
      const auto [ra, rb] = replicates[i];
      const bool b_better =
          log_gap(*a.replicate_frontiers[ra], *b.replicate_frontiers[rb], std::log(searched_lo)) > 0;
      if (b_better == b_better_above) {
        samples.push_back(-kInfinity);  // already crossed below the searched range
        ++crossover.pairs_below;
      } else {
        samples.push_back(kInfinity);  // crosses, if at all, above it
        ++crossover.pairs_above;
      }
    }
    crossover.compute = interval_over(std::exp(x0), samples, confidence);
    crossover.inside_measured = within(std::exp(x0), pair.measured_lo, pair.measured_hi);
    pair.crossovers.push_back(crossover);
  }
  if (full.empty()) {
    pair.better = log_gap(fa, fb, std::log(searched_lo)) > 0 ? b.name : a.name;
    for (const std::vector<double>& xs : replicate_crossings) pair.pairs_crossing += !xs.empty();
  }
  return pair;
}

}  // namespace

const char* to_string(FrontierSource source) {
  return source == FrontierSource::kApproach3 ? "approach 3" : "L(C)";
}

OffsetPowerLaw approach3_frontier(const ParametricLaw& law, double k) {
  const double gamma = law.alpha * law.beta / (law.alpha + law.beta);
  const double G = law.G();
  const double K = law.A * std::pow(G, -law.alpha) + law.B * std::pow(G, law.beta);
  return {law.E, k * std::pow(K, 1 / gamma), gamma};
}

double compute_for_loss(const OffsetPowerLaw& frontier, double loss) {
  if (!(loss > frontier.E)) return kInfinity;
  return frontier.scale * std::pow(loss - frontier.E, -1 / frontier.exponent);
}

Interval frontier_at(const VariantFit& variant, double compute, double confidence) {
  if (!variant.frontier) return {};
  std::vector<double> samples;
  for (const auto& f : variant.replicate_frontiers)
    if (f) samples.push_back(f->at(compute));
  return interval_over(variant.frontier->at(compute), samples, confidence);
}

Interval multiplier_at(const VariantFit& a, const VariantFit& b, double compute,
                       double confidence) {
  if (!a.frontier || !b.frontier) return {};
  std::vector<double> samples;
  for (const auto& [ra, rb] : paired_replicates(a, b))
    samples.push_back(
        compute_for_loss(*a.replicate_frontiers[ra], b.replicate_frontiers[rb]->at(compute)) /
        compute);
  return interval_over(compute_for_loss(*a.frontier, b.frontier->at(compute)) / compute, samples,
                       confidence);
}

uint64_t variant_seed(uint64_t seed, const std::string& variant) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits
  for (unsigned char c : variant) hash = (hash ^ c) * 0x100000001b3ull;
  return seed + hash;
}

std::string variant_label(const std::string& name) { return name.empty() ? "(unnamed)" : name; }

std::vector<SettingDifference> setting_differences(const VariantInfo& a, const VariantInfo& b) {
  std::vector<SettingDifference> out;
  auto compare = [&](const char* kind, const std::string& section,
                     const std::map<std::string, std::string>& x,
                     const std::map<std::string, std::string>& y) {
    std::set<std::string> keys;
    for (const auto& [key, value] : x) keys.insert(key);
    for (const auto& [key, value] : y) keys.insert(key);
    for (const std::string& key : keys) {
      const auto i = x.find(key), j = y.find(key);
      const std::string u = i == x.end() ? "" : i->second, v = j == y.end() ? "" : j->second;
      if (u != v) out.push_back({kind, section + "." + key, u, v});
    }
  };
  compare("architecture", "model", a.model, b.model);
  compare("recipe", "train", a.train, b.train);
  if (a.lr_note != b.lr_note)
    out.push_back({"recipe", "train.lr (how chosen)", a.lr_note, b.lr_note});
  return out;
}

namespace {

// An approach-3 law describes a variant's frontier only where its L_opt(C)
// is not above the variant's own best run at a budget: L_opt is the lowest
// loss the law allows at C, so a frontier above a run that was trained there
// misdescribes it (a law fitted to a budget range too short to pin E down
// can bend off above the minima). "" when it agrees, else why not.
constexpr double kFrontierAboveRuns = 0.02;  // relative loss
std::string a3_disagreement(const VariantFit& v) {
  const ParametricFit* a3 = v.analysis ? v.analysis->laws.usable_a3() : nullptr;
  if (!a3) return "";
  const OffsetPowerLaw frontier = approach3_frontier(a3->law, v.analysis->flops_per_param_token);
  for (const auto& [budget, loss] : v.data.best_loss_by_budget()) {
    const double predicted = frontier.at(budget);
    if (predicted > loss * (1 + kFrontierAboveRuns)) {
      char text[200];
      std::snprintf(text, sizeof(text),
                    "approach 3's frontier is %.3g at %.3g FLOPs, %.1f%% above the best run "
                    "trained there (%.3g)",
                    predicted, budget, 100 * (predicted / loss - 1), loss);
      return text;
    }
  }
  return "";
}

}  // namespace

Comparison compare_variants(std::vector<VariantFit>& variants, const AnalysisOptions& options) {
  Comparison comparison;
  comparison.confidence = options.confidence;
  int with_a3 = 0, with_compute_law = 0;
  std::vector<std::string> disagreements;
  for (const VariantFit& v : variants) {
    if (!v.analysis) continue;
    const std::string disagreement = a3_disagreement(v);
    if (!disagreement.empty()) disagreements.push_back(variant_label(v.name) + ": " + disagreement);
    with_a3 += v.analysis->laws.usable_a3() != nullptr && disagreement.empty();
    with_compute_law += v.analysis->laws.frontier_loss.has_value();
  }
  comparison.source =
      with_a3 >= with_compute_law ? FrontierSource::kApproach3 : FrontierSource::kComputeLaw;
  const int fitted = static_cast<int>(std::count_if(
      variants.begin(), variants.end(), [](const VariantFit& v) { return v.analysis; }));
  comparison.source_why =
      comparison.source == FrontierSource::kApproach3
          ? (with_a3 == fitted ? "every fitted variant has a usable approach-3 law"
                               : std::to_string(with_a3) + " of " + std::to_string(fitted) +
                                     " fitted variants have a usable approach-3 law, " +
                                     std::to_string(with_compute_law) + " an L(C)")
          : std::to_string(with_compute_law) + " of " + std::to_string(fitted) +
                " fitted variants have an L(C) on their IsoFLOP minima, " +
                std::to_string(with_a3) + " a usable approach-3 law that agrees with its runs";
  for (const std::string& d : disagreements) comparison.source_why += "; " + d;

  double lo = kInfinity, hi = 0;
  for (VariantFit& v : variants) {
    v.frontier.reset();
    v.replicate_frontiers.clear();
    if (!v.analysis) {
      comparison.not_compared.push_back(variant_label(v.name) + ": not fitted: " + v.why);
      continue;
    }
    const Analysis& analysis = *v.analysis;
    const double k = analysis.flops_per_param_token;
    if (comparison.source == FrontierSource::kApproach3) {
      const ParametricFit* a3 = analysis.laws.usable_a3();
      const std::string disagreement = a3_disagreement(v);
      if (a3 && !disagreement.empty()) {
        comparison.not_compared.push_back(variant_label(v.name) + ": " + disagreement);
        continue;
      }
      if (!a3) {
        comparison.not_compared.push_back(variant_label(v.name) +
                                          ": no usable approach-3 law: " +
                                          why_of(analysis.laws, "a3"));
        continue;
      }
      v.frontier = approach3_frontier(a3->law, k);
      for (const ReplicateLaws& r : analysis.replicates)
        v.replicate_frontiers.push_back(r.a3 ? std::optional(approach3_frontier(*r.a3, k))
                                             : std::nullopt);
    } else {
      if (!analysis.laws.frontier_loss) {
        comparison.not_compared.push_back(variant_label(v.name) + ": no L(C): " +
                                          why_of(analysis.laws, "kaplan"));
        continue;
      }
      v.frontier = analysis.laws.frontier_loss;
      for (const ReplicateLaws& r : analysis.replicates)
        v.replicate_frontiers.push_back(r.frontier_loss);
    }
    comparison.compared.push_back(v.name);
    lo = std::min(lo, v.data.budgets.front());
    hi = std::max(hi, v.data.budgets.back());
  }
  if (comparison.compared.empty()) return comparison;
  comparison.searched_lo = lo / kSearchBelow;
  comparison.searched_hi = hi * kSearchAbove;
  for (const Target& t : options.targets)
    if (t.compute > 0) comparison.searched_hi = std::max(comparison.searched_hi, t.compute);
  for (size_t i = 0; i < variants.size(); ++i) {
    if (!variants[i].frontier) continue;
    for (size_t j = i + 1; j < variants.size(); ++j) {
      if (!variants[j].frontier) continue;
      comparison.pairs.push_back(compare_pair(variants[i], variants[j], options,
                                              comparison.searched_lo, comparison.searched_hi));
    }
  }
  return comparison;
}

VariantStudy analyze_variants(const FitData& data, const AnalysisOptions& options,
                              const std::function<void(const std::string&)>& log) {
  VariantStudy study;
  study.data = data;
  study.options = options;
  std::string failures;
  for (const std::string& name : variant_names(data)) {
    VariantFit v;
    v.name = name;
    v.info.name = name;
    for (const VariantInfo& info : data.variants)
      if (info.name == name) v.info = info;
    v.data = variant_data(data, name);
    if (v.data.points.empty()) {
      v.why = "no runs to fit (" + std::to_string(v.data.excluded.size()) + " not fitted)";
    } else {
      AnalysisOptions own = options;
      own.seed = variant_seed(options.seed, name);
      if (log) log(variant_label(name));
      try {
        v.analysis = analyze(v.data, own);
      } catch (const UserError& e) {
        v.why = e.what();
      }
    }
    if (!v.analysis) failures += "; " + variant_label(name) + ": " + v.why;
    study.variants.push_back(std::move(v));
  }
  if (std::none_of(study.variants.begin(), study.variants.end(),
                   [](const VariantFit& v) { return v.analysis.has_value(); }))
    throw UserError(data.source + ": no variant can be fitted" + failures);
  study.comparison = compare_variants(study.variants, options);
  return study;
}

}  // namespace sweep::fit
