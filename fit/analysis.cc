#include "fit/analysis.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <tuple>

#include "common/check.h"
#include "common/error.h"
#include "common/format.h"
#include "fit/parallel.h"

namespace sweep::fit {
namespace {

// The percentile of sorted values, linearly interpolated.
double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return NAN;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= sorted.size()) return sorted.back();
  return sorted[i] + (pos - static_cast<double>(i)) * (sorted[i + 1] - sorted[i]);
}

std::string approach_name(int approach) { return "a" + std::to_string(approach); }

ReplicateLaws compact(const LawSet& laws) {
  ReplicateLaws r;
  r.a1_params = laws.a1_params, r.a1_tokens = laws.a1_tokens;
  r.a2_params = laws.a2_params, r.a2_tokens = laws.a2_tokens;
  if (const ParametricFit* a3 = laws.usable_a3()) r.a3 = a3->law;
  r.frontier_loss = laws.frontier_loss;
  return r;
}

// Every reported number of one LawSet, by key. Labels are made by label_of().
using Values = std::vector<std::pair<std::string, double>>;

std::string target_key(size_t index) { return "target." + std::to_string(index); }

Values summarize(const LawSet& laws, const FitData& data, const std::vector<Target>& targets) {
  Values v;
  const double k = data.flops_per_param_token;
  auto power = [&](const std::string& key, const std::optional<PowerLaw>& law) {
    if (!law) return;
    v.push_back({key + "_exponent", law->exponent});
    v.push_back({key + "_coefficient", law->coefficient});
  };
  if (laws.a1_params) {
    v.push_back({"a1.a", laws.a1_params->exponent});
    v.push_back({"a1.b", laws.a1_tokens->exponent});
  }
  if (laws.a2_params) {
    v.push_back({"a2.a", laws.a2_params->exponent});
    v.push_back({"a2.b", laws.a2_tokens->exponent});
  }
  power("a1.params", laws.a1_params);
  power("a1.tokens", laws.a1_tokens);
  power("a2.params", laws.a2_params);
  power("a2.tokens", laws.a2_tokens);
  for (const Profile& p : laws.profiles) {
    if (!p.parabola) continue;
    const std::string key = "profile." + format_sci(p.budget);
    v.push_back({key + ".params_opt", p.params_opt});
    v.push_back({key + ".tokens_opt", p.tokens_opt});
    v.push_back({key + ".loss_opt", p.loss_opt});
  }
  const ParametricFit* a3 = laws.usable_a3();
  if (a3) {
    const ParametricLaw& l = a3->law;
    v.push_back({"a3.a", l.a()});
    v.push_back({"a3.b", l.b()});
    v.push_back({"a3.E", l.E});
    v.push_back({"a3.A", l.A});
    v.push_back({"a3.B", l.B});
    v.push_back({"a3.alpha", l.alpha});
    v.push_back({"a3.beta", l.beta});
    v.push_back({"a3.G", l.G()});
  }
  auto kaplan = [&](const std::string& key, const std::optional<OffsetPowerLaw>& law) {
    if (!law) return;
    v.push_back({key + ".exponent", law->exponent});
    v.push_back({key + ".scale", law->scale});
    if (law->E > 0) v.push_back({key + ".E", law->E});
  };
  kaplan("kaplan.params", laws.kaplan_params);
  kaplan("kaplan.tokens", laws.kaplan_tokens);
  kaplan("kaplan.compute", laws.kaplan_compute);
  kaplan("kaplan_offset.params", laws.kaplan_params_offset);
  kaplan("kaplan_offset.tokens", laws.kaplan_tokens_offset);
  kaplan("kaplan_offset.compute", laws.kaplan_compute_offset);

  // The loss on the frontier for approaches 1 and 2: Kaplan's L(C), with or
  // without the irreducible term as the minima support it (law_set.cc).
  const std::optional<OffsetPowerLaw>& frontier_loss = laws.frontier_loss;
  for (size_t t = 0; t < targets.size(); ++t) {
    const Target& target = targets[t];
    const std::string base = target_key(t);
    if (target.compute > 0) {
      const double c = target.compute;
      auto project = [&](int approach, double n, double d, double loss) {
        const std::string key = base + "." + approach_name(approach);
        v.push_back({key + ".params", n});
        v.push_back({key + ".tokens", d});
        v.push_back({key + ".tokens_per_param", d / n});
        v.push_back({key + ".compute", c});
        if (std::isfinite(loss)) v.push_back({key + ".loss", loss});
      };
      const double frontier = frontier_loss ? frontier_loss->at(c) : NAN;
      if (laws.a1_params) project(1, laws.a1_params->at(c), laws.a1_tokens->at(c), frontier);
      if (laws.a2_params) project(2, laws.a2_params->at(c), laws.a2_tokens->at(c), frontier);
      if (a3) {
        const ParametricLaw& l = a3->law;
        const double n = l.optimal_params(c, k), d = l.optimal_tokens(c, k);
        project(3, n, d, l.loss(n, d));
      }
    } else if (a3) {
      const std::string key = base + ".a3";
      v.push_back({key + ".params", target.params});
      v.push_back({key + ".tokens", target.tokens});
      v.push_back({key + ".tokens_per_param", target.tokens / target.params});
      v.push_back({key + ".compute", k * target.params * target.tokens});
      v.push_back({key + ".loss", a3->law.loss(target.params, target.tokens)});
    }
  }
  return v;
}

std::string label_of(const std::string& key) {
  static const std::vector<std::pair<std::string, std::string>> kLabels = {
      {"a1.a", "a: N_opt ∝ C^a (approach 1)"},
      {"a1.b", "b: D_opt ∝ C^b (approach 1)"},
      {"a2.a", "a: N_opt ∝ C^a (approach 2)"},
      {"a2.b", "b: D_opt ∝ C^b (approach 2)"},
      {"a3.a", "a = β/(α+β) (approach 3)"},
      {"a3.b", "b = α/(α+β) (approach 3)"},
      {"a3.E", "E, irreducible loss (approach 3)"},
      {"a3.A", "A (approach 3)"},
      {"a3.B", "B (approach 3)"},
      {"a3.alpha", "α, exponent of N (approach 3)"},
      {"a3.beta", "β, exponent of D (approach 3)"},
      {"a3.G", "G = (αA/βB)^(1/(α+β)) (approach 3)"},
  };
  for (const auto& [k, label] : kLabels)
    if (k == key) return label;
  return key;
}

// Runs options.bootstrap replicates of fit_laws on runs resampled within
// each budget, against the full data's laws `full`.
std::vector<LawSet> bootstrap(const FitData& data, const CurveGrid& grid,
                              const AnalysisOptions& options, const LawSet& full) {
  const std::vector<std::vector<int64_t>> profiles = data.profiles();
  std::vector<LawSet> out(static_cast<size_t>(options.bootstrap));
  auto replicate = [&](size_t r) {
    std::mt19937_64 rng(options.seed + 0x9E3779B97F4A7C15ull * (r + 1));
    std::vector<int64_t> sample;
    for (const std::vector<int64_t>& profile : profiles) {
      std::uniform_int_distribution<size_t> pick(0, profile.size() - 1);
      for (size_t j = 0; j < profile.size(); ++j) sample.push_back(profile[pick(rng)]);
    }
    out[r] = fit_laws(data, grid, sample, options, &full);
  };
  parallel_for(out.size(), options.threads, replicate);
  return out;
}

std::vector<Quantity> with_intervals(const Values& base, const std::vector<Values>& replicates,
                                     double confidence) {
  std::map<std::string, std::vector<double>> samples;
  for (const Values& values : replicates)
    for (const auto& [key, value] : values)
      if (std::isfinite(value)) samples[key].push_back(value);
  std::vector<Quantity> out;
  for (const auto& [key, value] : base) {
    Quantity q;
    q.key = key;
    q.label = label_of(key);
    q.value = value;
    q.lo = q.hi = NAN;
    auto it = samples.find(key);
    if (it != samples.end() && it->second.size() >= 2) {
      std::vector<double>& s = it->second;
      std::sort(s.begin(), s.end());
      q.replicates = static_cast<int64_t>(s.size());
      q.lo = percentile(s, (1 - confidence) / 2);
      q.hi = percentile(s, 1 - (1 - confidence) / 2);
    }
    out.push_back(q);
  }
  return out;
}

// The fit and its intervals on one data set: the part shared by the full
// analysis and the backtest.
struct Fitted {
  LawSet laws;
  std::vector<ReplicateLaws> replicates;
  std::vector<Quantity> quantities;
  std::vector<int> bootstrapped;
  std::map<std::string, int64_t> failures;
};

// A target's predicted loss: "target.<t>.a<approach>.loss".
bool is_target_loss(const std::string& key) {
  const std::string suffix = ".loss";
  return key.rfind("target.", 0) == 0 && key.size() > suffix.size() &&
         key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Fitted fit_with_intervals(const FitData& data, const AnalysisOptions& options,
                          const std::vector<Target>& targets, const NoiseFloor& noise) {
  Fitted fitted;
  const CurveGrid grid = make_curve_grid(data);
  std::vector<int64_t> all(data.points.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  AnalysisOptions base_options = options;
  base_options.parametric.threads = options.threads;
  fitted.laws = fit_laws(data, grid, all, base_options, nullptr);
  const Values base = summarize(fitted.laws, data, targets);

  std::vector<Values> replicate_values;
  // Only what was fitted to all the data is refitted: a failed approach 3
  // would otherwise rerun its whole start grid in every replicate.
  const bool fitted_on_all[] = {fitted.laws.a1_params.has_value(),
                                fitted.laws.a2_params.has_value(),
                                fitted.laws.usable_a3() != nullptr};
  if (options.bootstrap > 0) {
    for (int approach : options.approaches)
      if (fitted_on_all[approach - 1]) fitted.bootstrapped.push_back(approach);
    AnalysisOptions replicate_options = options;
    replicate_options.parametric.threads = 1;  // replicates run in parallel instead
    const std::vector<LawSet> replicates = bootstrap(data, grid, replicate_options, fitted.laws);
    for (const LawSet& laws : replicates) {
      replicate_values.push_back(summarize(laws, data, targets));
      fitted.replicates.push_back(compact(laws));
      auto count = [&](const char* name, bool wanted, bool present) {
        if (wanted && !present) ++fitted.failures[name];
      };
      count("approach 1", fitted_on_all[0], laws.a1_params.has_value());
      count("approach 2", fitted_on_all[1], laws.a2_params.has_value());
      count("approach 3", fitted_on_all[2], laws.usable_a3() != nullptr);
    }
  }
  fitted.quantities = with_intervals(base, replicate_values, options.confidence);
  // The laws predict the loss averaged over seeds; one run lands around it.
  for (Quantity& q : fitted.quantities)
    if (is_target_loss(q.key)) q = with_seed_noise(q, noise);
  return fitted;
}

const Quantity* find_in(const std::vector<Quantity>& quantities, const std::string& key) {
  for (const Quantity& q : quantities)
    if (q.key == key) return &q;
  return nullptr;
}

// The runs (and curves) of the smallest `count` budgets, with k in C = k·N·D
// from them alone: the larger budgets' runs are unseen.
FitData smallest_budgets(const FitData& data, size_t count) {
  FitData smaller = data;
  smaller.points.clear(), smaller.curves.clear();
  const double largest = data.budgets[count - 1];
  std::vector<int64_t> new_index(data.points.size(), -1);
  for (size_t i = 0; i < data.points.size(); ++i) {
    if (data.points[i].budget > largest) continue;
    new_index[i] = static_cast<int64_t>(smaller.points.size());
    smaller.points.push_back(data.points[i]);
  }
  for (const LossCurve& c : data.curves) {
    if (new_index[c.observation] < 0) continue;
    smaller.curves.push_back(c);
    smaller.curves.back().observation = new_index[c.observation];
  }
  smaller.budgets.assign(data.budgets.begin(), data.budgets.begin() + count);
  smaller.flops_per_param_token = median_flops_per_param_token(smaller.points);
  return smaller;
}

// Every law fitted, with its own bootstrap, to the smallest `count` budgets;
// each larger budget is a target of that compute, target index t being
// budget count + t.
struct Split {
  std::vector<double> fitted_budgets, predicted_budgets;
  double flops_per_param_token = 6;
  Fitted fitted;
};

Split fit_split(const FitData& data, size_t count, const AnalysisOptions& options,
                const NoiseFloor& noise) {
  Split split;
  const FitData smaller = smallest_budgets(data, count);
  split.fitted_budgets = smaller.budgets;
  split.predicted_budgets.assign(data.budgets.begin() + count, data.budgets.end());
  split.flops_per_param_token = smaller.flops_per_param_token;
  std::vector<Target> targets;
  for (double b : split.predicted_budgets) targets.push_back({format_sci(b), b, 0, 0});
  split.fitted = fit_with_intervals(smaller, options, targets, noise);
  return split;
}

// A split's rows: for every predicted budget, one per approach that predicts
// its N_opt. `truth` is every budget's own profile on all its runs (the full
// data's, in budget order); a budget without a minimum has nothing to be
// compared with and no rows (without_minimum() says why).
std::vector<BacktestRow> split_rows(const Split& split, const std::vector<Profile>& truth) {
  std::vector<BacktestRow> rows;
  const size_t first = split.fitted_budgets.size();
  for (size_t t = 0; t < split.predicted_budgets.size(); ++t) {
    const Profile& observed = truth[first + t];
    if (!observed.parabola) continue;
    for (int approach : {1, 2, 3}) {
      const std::string key = target_key(t) + "." + approach_name(approach);
      const Quantity* params = find_in(split.fitted.quantities, key + ".params");
      const Quantity* loss = find_in(split.fitted.quantities, key + ".loss");
      if (!params) continue;
      BacktestRow row;
      row.budget = observed.budget;
      row.largest_fitted = split.fitted_budgets.back();
      row.extrapolation = row.budget / row.largest_fitted;
      row.approach = approach;
      row.observed_params = observed.params_opt;
      row.observed_loss = observed.loss_opt;
      row.predicted_params = *params;
      row.params_error = params->value / observed.params_opt - 1;
      row.params_covered = coverage_of(*params, observed.params_opt);
      if (loss) {
        row.predicted_loss = *loss;
        row.loss_error = loss->value - observed.loss_opt;
        row.loss_relative_error = row.loss_error / observed.loss_opt;
        row.loss_covered = coverage_of(*loss, observed.loss_opt);
      } else {
        row.predicted_loss.value = row.predicted_loss.lo = row.predicted_loss.hi = NAN;
        row.loss_error = row.loss_relative_error = NAN;
      }
      rows.push_back(row);
    }
  }
  return rows;
}

// "<prefix>budget 1e18: why; ..." for the budgets from index `first` on
// that have no IsoFLOP minimum; the first `named` are named, the rest
// counted. "" when every one has a minimum.
std::string without_minimum(const std::vector<Profile>& truth, size_t first,
                            const std::string& prefix, size_t named) {
  std::string text;
  size_t missing = 0;
  for (size_t b = first; b < truth.size(); ++b) {
    if (truth[b].parabola) continue;
    if (missing++ < named)
      text += (text.empty() ? "" : "; ") + prefix + "budget " + format_sci(truth[b].budget) + ": " +
              truth[b].why;
  }
  if (missing > named) text += "; and " + std::to_string(missing - named) + " more";
  return text;
}

// The splits' fits, each made once: the headline backtest is one of the
// distance backtest's splits.
class Splits {
 public:
  Splits(const FitData& data, const AnalysisOptions& options, const NoiseFloor& noise)
      : data_(data), options_(options), noise_(noise) {}
  const Split& fitted_to(size_t count) {
    auto it = splits_.find(count);
    if (it == splits_.end())
      it = splits_.emplace(count, fit_split(data_, count, options_, noise_)).first;
    return it->second;
  }

 private:
  const FitData& data_;
  const AnalysisOptions& options_;
  const NoiseFloor& noise_;
  std::map<size_t, Split> splits_;
};

Backtest headline_backtest(const FitData& data, const AnalysisOptions& options,
                           const std::vector<Profile>& truth, Splits& splits) {
  Backtest backtest;
  const int64_t holdout = options.holdout_budgets;
  const int64_t budgets = static_cast<int64_t>(data.budgets.size());
  if (holdout <= 0) {
    backtest.why = "no budgets held out (holdout_budgets = 0)";
    return backtest;
  }
  if (budgets - holdout < 2) {
    backtest.why = "holding out " + std::to_string(holdout) + " of " + std::to_string(budgets) +
                   " budgets leaves fewer than 2 to fit";
    return backtest;
  }
  const Split& split = splits.fitted_to(static_cast<size_t>(budgets - holdout));
  backtest.fitted_budgets = split.fitted_budgets;
  backtest.held_out_budgets = split.predicted_budgets;
  backtest.flops_per_param_token = split.flops_per_param_token;
  backtest.laws = split.fitted.laws;
  backtest.rows = split_rows(split, truth);
  backtest.why = without_minimum(truth, split.fitted_budgets.size(), "held-out ",
                                 split.predicted_budgets.size());
  return backtest;
}

// Rows of one approach grouped by extrapolation factor (see DistanceSummary).
std::vector<DistanceSummary> summarize_distance(const std::vector<BacktestRow>& rows) {
  std::vector<double> factors;
  for (const BacktestRow& row : rows) factors.push_back(row.extrapolation);
  const std::vector<double> groups = infer_budgets(factors);
  // Sums first; every row has an N_opt error, only some a loss error.
  std::map<std::pair<double, int>, DistanceSummary> by_group;
  std::map<std::pair<double, int>, int64_t> losses;
  for (size_t i = 0; i < rows.size(); ++i) {
    const BacktestRow& row = rows[i];
    const std::pair<double, int> group = {groups[i], row.approach};
    DistanceSummary& s = by_group[group];
    if (s.rows++ == 0) {
      s.extrapolation = groups[i];
      s.approach = row.approach;
      s.mean_abs_loss_error = s.mean_abs_params_error = 0;
    }
    if (std::isfinite(row.loss_relative_error)) {
      s.mean_abs_loss_error += std::abs(row.loss_relative_error);
      ++losses[group];
      if (row.loss_covered != Coverage::kNoInterval) ++s.loss_intervals;
      if (row.loss_covered == Coverage::kCovered) ++s.loss_covered;
    }
    s.mean_abs_params_error += std::abs(row.params_error);
    if (row.params_covered != Coverage::kNoInterval) ++s.params_intervals;
    if (row.params_covered == Coverage::kCovered) ++s.params_covered;
  }
  std::vector<DistanceSummary> summary;
  for (auto& [group, s] : by_group) {
    const int64_t with_loss = losses[group];
    s.mean_abs_loss_error = with_loss > 0 ? s.mean_abs_loss_error / double(with_loss) : NAN;
    s.mean_abs_params_error /= double(s.rows);
    summary.push_back(s);
  }
  return summary;
}

DistanceBacktest distance_backtest(const FitData& data, const AnalysisOptions& options,
                                   const std::vector<Profile>& truth, Splits& splits) {
  DistanceBacktest distance;
  const size_t budgets = data.budgets.size();
  if (!options.distance_backtest) {
    distance.why = "not asked for (distance_backtest = false)";
    return distance;
  }
  if (budgets < 3) {
    distance.why =
        "needs at least 3 budgets (2 to fit, 1 to predict); there are " + std::to_string(budgets);
    return distance;
  }
  // A split is fitted only when a larger budget has a minimum to compare
  // its prediction with: a table that is not an IsoFLOP grid has dozens of
  // budgets and none.
  size_t last_minimum = 0;
  for (size_t b = 2; b < budgets; ++b)
    if (truth[b].parabola) last_minimum = b;
  constexpr size_t kNamed = 3;
  distance.why = without_minimum(truth, 2, "", kNamed);
  if (last_minimum == 0) {
    distance.why =
        "no budget beyond the 2 smallest has an IsoFLOP minimum to predict (" + distance.why + ")";
    return distance;
  }
  if (!distance.why.empty()) distance.why = "no minimum to predict: " + distance.why;
  for (size_t count = 2; count <= last_minimum; ++count) {
    const Split& split = splits.fitted_to(count);
    const LawSet& laws = split.fitted.laws;
    BacktestSplit s;
    s.fitted_budgets = split.fitted_budgets;
    s.flops_per_param_token = split.flops_per_param_token;
    for (int approach : options.approaches) {
      const auto why = laws.why.find(approach_name(approach));
      if (why != laws.why.end()) s.why[why->first] = why->second;
    }
    const bool frontier_loss = laws.kaplan_compute || laws.kaplan_compute_offset;
    if (!frontier_loss && (laws.a1_params || laws.a2_params) && laws.why.count("kaplan"))
      s.why["kaplan"] = laws.why.at("kaplan");
    distance.splits.push_back(s);
    const std::vector<BacktestRow> rows = split_rows(split, truth);
    distance.rows.insert(distance.rows.end(), rows.begin(), rows.end());
  }
  distance.summary = summarize_distance(distance.rows);
  return distance;
}

// The x with Φ(x) = p, by bisection on erfc: exact to double precision, and
// called once per analysis.
double normal_quantile(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

const Quantity* Analysis::find(const std::string& key) const { return find_in(quantities, key); }

const char* to_string(Coverage coverage) {
  switch (coverage) {
    case Coverage::kCovered:
      return "covered";
    case Coverage::kNotCovered:
      return "not covered";
    case Coverage::kNoInterval:
      break;
  }
  return "no interval";
}

Coverage coverage_of(const Quantity& predicted, double observed) {
  if (!std::isfinite(predicted.lo) || !std::isfinite(predicted.hi)) return Coverage::kNoInterval;
  return predicted.lo <= observed && observed <= predicted.hi ? Coverage::kCovered
                                                              : Coverage::kNotCovered;
}

NoiseFloor seed_noise(const FitData& data, double confidence) {
  NoiseFloor noise;
  noise.z = normal_quantile(0.5 + confidence / 2);
  // Repeats are exactly equal in budget, N and D: the grid gives every seed
  // of a run the same ones.
  std::map<std::tuple<double, double, double>, std::vector<double>> repeats;
  for (const Observation& p : data.points)
    repeats[{p.budget, p.params, p.tokens}].push_back(p.loss);
  double squares = 0;
  for (const auto& [run, losses] : repeats) {
    if (losses.size() < 2) continue;
    double mean = 0;
    for (double l : losses) mean += l;
    mean /= static_cast<double>(losses.size());
    for (double l : losses) squares += (l - mean) * (l - mean);
    ++noise.groups;
    noise.runs += static_cast<int64_t>(losses.size());
  }
  if (noise.groups == 0) return noise;
  // Unbiased: each group's mean takes one degree of freedom.
  noise.loss_sd.value = std::sqrt(squares / static_cast<double>(noise.runs - noise.groups));
  noise.loss_sd.label = "σ, seed-to-seed standard deviation of the final loss (nats), from " +
                        std::to_string(noise.groups) + " groups of repeated runs (" +
                        std::to_string(noise.runs) + " runs)";
  return noise;
}

Quantity with_seed_noise(const Quantity& predicted_loss, const NoiseFloor& noise) {
  const Quantity& q = predicted_loss;
  if (!noise.measured() || !std::isfinite(q.value) || !std::isfinite(q.lo) || !std::isfinite(q.hi))
    return q;
  const double floor = noise.z * noise.loss_sd.value;
  Quantity widened = q;
  widened.lo = q.value - std::hypot(q.value - q.lo, floor);
  widened.hi = q.value + std::hypot(q.hi - q.value, floor);
  return widened;
}

ExtrapolationError extrapolation_error(const DistanceBacktest& distance, int approach) {
  ExtrapolationError e;
  e.approach = approach;
  double squares = 0;
  for (const BacktestRow& row : distance.rows) {
    if (row.approach != approach || !(row.extrapolation > 1) ||
        !std::isfinite(row.loss_relative_error))
      continue;
    const double scaled = row.loss_relative_error / std::log(row.extrapolation);
    squares += scaled * scaled;
    ++e.rows;
  }
  if (e.rows > 0) e.c = std::sqrt(squares / static_cast<double>(e.rows));
  return e;
}

Quantity with_extrapolation_error(const Quantity& loss, double factor,
                                  const ExtrapolationError& error, double z) {
  if (!(factor > 1) || !std::isfinite(error.c) || !std::isfinite(loss.value) ||
      !std::isfinite(loss.lo) || !std::isfinite(loss.hi))
    return loss;
  const double spread = z * error.c * std::log(factor) * loss.value;
  Quantity widened = loss;
  widened.lo = loss.value - std::hypot(loss.value - loss.lo, spread);
  widened.hi = loss.value + std::hypot(loss.hi - loss.value, spread);
  return widened;
}

Quantity interval_of(const std::string& key, const ReplicateLaws& full,
                     const std::vector<ReplicateLaws>& replicates, double confidence,
                     const std::function<double(const ReplicateLaws&)>& f) {
  Values base = {{key, f(full)}};
  std::vector<Values> values;
  for (const ReplicateLaws& r : replicates) values.push_back({{key, f(r)}});
  return with_intervals(base, values, confidence).front();
}

Analysis analyze(const FitData& data, const AnalysisOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (data.points.size() < 3)
    throw UserError(data.source + ": " + std::to_string(data.points.size()) +
                    " runs to fit; a scaling law needs at least 3 (more for each approach)");
  if (!(options.confidence > 0 && options.confidence < 1))
    throw UserError("confidence must be between 0 and 1");
  for (const Observation& p : data.points)
    SWEEP_CHECK(p.budget > 0, "run " + p.run_id + " has no budget: finish_fit_data() gives one");

  Analysis analysis;
  analysis.options = options;
  if (options.holdout_budgets == kDefaultHoldout)
    analysis.options.holdout_budgets = default_holdout_budgets(data.budgets.size());
  analysis.flops_per_param_token = data.flops_per_param_token;
  analysis.noise = seed_noise(data, options.confidence);
  Fitted fitted = fit_with_intervals(data, options, options.targets, analysis.noise);
  analysis.laws = std::move(fitted.laws);
  analysis.full = compact(analysis.laws);
  analysis.replicates = std::move(fitted.replicates);
  analysis.replicates_done = static_cast<int64_t>(analysis.replicates.size());
  analysis.quantities = std::move(fitted.quantities);
  if (analysis.noise.measured()) analysis.quantities.push_back(analysis.noise.loss_sd);
  analysis.replicate_failures = std::move(fitted.failures);
  analysis.bootstrapped = std::move(fitted.bootstrapped);

  const LawSet& laws = analysis.laws;
  const bool any = laws.a1_params || laws.a2_params || laws.usable_a3();
  if (!any) {
    std::string why = data.source + ": no scaling law can be fitted to these " +
                      std::to_string(data.points.size()) + " runs in " +
                      std::to_string(data.budgets.size()) + " budget" +
                      (data.budgets.size() == 1 ? "" : "s");
    for (int approach : options.approaches) {
      auto it = laws.why.find(approach_name(approach));
      if (it != laws.why.end()) why += "; approach " + std::to_string(approach) + ": " + it->second;
    }
    throw UserError(why);
  }
  for (int approach : options.approaches) {
    auto it = laws.why.find(approach_name(approach));
    if (it != laws.why.end())
      analysis.warnings.push_back("approach " + std::to_string(approach) +
                                  " not fitted: " + it->second);
  }
  if (const ParametricFit* a3 = laws.usable_a3(); a3 && a3->few_converged())
    analysis.warnings.push_back("approach 3: only " + std::to_string(a3->converged) + " of " +
                                std::to_string(a3->starts) +
                                " L-BFGS starts converged (fewer than " +
                                std::to_string(static_cast<int>(kFewConvergedShare * 100)) +
                                "%): the optimum may not be the best there is");
  // One warning per profile, unless there are many (a table that is not an
  // IsoFLOP grid): then the first few and a count.
  std::vector<std::string> profile_warnings;
  for (const Profile& p : laws.profiles) {
    if (!p.parabola)
      profile_warnings.push_back("budget " + format_sci(p.budget) + ": " + p.why);
    else if (!p.bracketed)
      profile_warnings.push_back(
          "budget " + format_sci(p.budget) +
          ": the minimum lies just outside the sizes trained (extrapolated)");
  }
  constexpr size_t kProfileWarnings = 5;
  if (profile_warnings.size() > kProfileWarnings) {
    const size_t more = profile_warnings.size() - kProfileWarnings + 1;
    profile_warnings.resize(kProfileWarnings - 1);
    profile_warnings.push_back("and " + std::to_string(more) + " more IsoFLOP profiles of " +
                               std::to_string(laws.profiles.size()) +
                               " without a usable minimum (see the profiles table)");
  }
  analysis.warnings.insert(analysis.warnings.end(), profile_warnings.begin(),
                           profile_warnings.end());
  for (const auto& [law, failures] : analysis.replicate_failures)
    analysis.warnings.push_back(law + " failed in " + std::to_string(failures) + " of " +
                                std::to_string(analysis.replicates_done) +
                                " bootstrap replicates (left out of its intervals)");

  Splits splits(data, analysis.options, analysis.noise);
  analysis.backtest = headline_backtest(data, analysis.options, analysis.laws.profiles, splits);
  analysis.distance = distance_backtest(data, analysis.options, analysis.laws.profiles, splits);
  // Target losses beyond the largest budget carry what extrapolating this
  // study has cost in its own backtest.
  const double largest_budget = data.budgets.back();
  const double z = normal_quantile(0.5 + options.confidence / 2);
  for (int approach : {1, 2, 3}) {
    const ExtrapolationError e = extrapolation_error(analysis.distance, approach);
    if (e.rows == 0) continue;
    analysis.extrapolation.push_back(e);
    const std::string part = "." + approach_name(approach);
    for (Quantity& q : analysis.quantities) {
      if (!is_target_loss(q.key) || q.key.find(part + ".") == std::string::npos) continue;
      const Quantity* compute = analysis.find(q.key.substr(0, q.key.size() - 5) + ".compute");
      if (compute) q = with_extrapolation_error(q, compute->value / largest_budget, e, z);
    }
  }
  // Projections to targets, from the quantities.
  for (size_t t = 0; t < options.targets.size(); ++t) {
    for (int approach : {1, 2, 3}) {
      const std::string key = target_key(t) + "." + approach_name(approach);
      const Quantity* params = analysis.find(key + ".params");
      if (!params) continue;
      Projection p;
      p.target = options.targets[t];
      p.approach = approach;
      p.params = *params;
      p.tokens = *analysis.find(key + ".tokens");
      p.tokens_per_param = *analysis.find(key + ".tokens_per_param");
      p.compute = *analysis.find(key + ".compute");
      if (const Quantity* loss = analysis.find(key + ".loss"))
        p.loss = *loss;
      else
        p.loss.value = p.loss.lo = p.loss.hi = NAN;
      analysis.projections.push_back(p);
    }
  }
  analysis.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return analysis;
}

}  // namespace sweep::fit
