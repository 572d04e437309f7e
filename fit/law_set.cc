#include "fit/law_set.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/format.h"

namespace sweep::fit {
namespace {

// Approach 1's FLOP grid: log-spaced from the smallest budget to the largest.
constexpr int kEnvelopePoints = 1500;
// Approach 3 needs ln D off every line in ln N: below this spread (RMS of the
// residual of ln D regressed on ln N) N fixes D, as within one budget.
constexpr double kMinIndependentSpread = 0.02;
// Failed profiles named one by one in a reason; the rest are counted.
constexpr size_t kProfilesNamed = 3;

bool wants(const AnalysisOptions& options, int approach) {
  return std::find(options.approaches.begin(), options.approaches.end(), approach) !=
         options.approaches.end();
}

std::string number(double x, const char* format = "%.3g") {
  char text[48];
  std::snprintf(text, sizeof(text), format, x);
  return text;
}

// "" when N_opt ∝ C^a, D_opt ∝ C^b agree with their definition, else why not.
std::string allocation_contradiction(const PowerLaw& params, const PowerLaw& tokens) {
  const double a = params.exponent, b = tokens.exponent;
  if (!(a > 0)) return "a = " + number(a) + ": N_opt would not grow with compute";
  if (!(b > 0)) return "b = " + number(b) + ": D_opt would not grow with compute";
  if (!(a < 1)) return "a = " + number(a) + ": N_opt would grow faster than compute";
  if (!(b < 1)) return "b = " + number(b) + ": D_opt would grow faster than compute";
  return "";
}

// The profile of `budget` in `sample`: runs, parabola, vertex, or why not.
Profile fit_profile(const FitData& data, const std::vector<int64_t>& sample, double budget,
                    double k) {
  Profile profile;
  profile.budget = budget;
  std::vector<double> params, tokens, loss;
  double flops_lo = INFINITY, flops_hi = 0;
  for (int64_t i : sample) {
    const Observation& p = data.points[i];
    if (p.budget != budget) continue;
    profile.points.push_back(i);
    params.push_back(p.params);
    tokens.push_back(p.tokens);
    loss.push_back(p.loss);
    flops_lo = std::min(flops_lo, p.flops), flops_hi = std::max(flops_hi, p.flops);
  }
  if (flops_hi > kFixedComputeFactor * flops_lo) {
    profile.why = "not at fixed compute: its runs' FLOPs span a factor of " +
                  number(flops_hi / flops_lo) + " (" + format_sci(flops_lo) + " to " +
                  format_sci(flops_hi) +
                  "), so a parabola in N would mix the effect of compute with that of size";
    return profile;
  }
  profile.parabola = fit_parabola(params, loss, &profile.why);
  if (!profile.parabola) return profile;
  const double n_opt = profile.parabola->vertex_params();
  const double lo = *std::min_element(params.begin(), params.end());
  const double hi = *std::max_element(params.begin(), params.end());
  profile.bracketed = n_opt >= lo && n_opt <= hi;
  // A vertex further out than half the sampled span is a guess, not a minimum.
  const double slack = std::sqrt(hi / lo);
  if (n_opt < lo / slack || n_opt > hi * slack) {
    profile.why = "the minimum (N = " + format_count(n_opt) + ") lies outside the sizes trained (" +
                  format_count(lo) + " to " + format_count(hi) + ")";
    profile.parabola.reset();
    return profile;
  }
  profile.params_opt = n_opt;
  profile.loss_opt = profile.parabola->vertex_loss();
  // D at the vertex: within one budget ln D is linear in ln N.
  const std::optional<PowerLaw> d_of_n = fit_power_law(params, tokens, nullptr);
  profile.tokens_opt = d_of_n ? d_of_n->at(n_opt) : budget / (k * n_opt);
  return profile;
}

// "2 of 5 IsoFLOP profiles have a minimum; needs 2; budget 1e18: ...".
std::string no_minima_reason(const std::vector<Profile>& profiles, size_t minima) {
  std::string why = std::to_string(minima) + " of " + std::to_string(profiles.size()) +
                    " IsoFLOP profiles have a minimum; needs 2";
  size_t named = 0, failed = 0;
  for (const Profile& p : profiles) {
    if (p.parabola) continue;
    ++failed;
    if (named++ < kProfilesNamed) why += "; budget " + format_sci(p.budget) + ": " + p.why;
  }
  if (failed > kProfilesNamed)
    why += "; and " + std::to_string(failed - kProfilesNamed) + " more profiles without one";
  return why;
}

// L(x) = E + (x_c/x)^α with α > 0, or empty with the reason added to `why`.
std::optional<OffsetPowerLaw> kaplan_law(const char* name, const std::vector<double>& x,
                                         const std::vector<double>& loss, bool with_offset,
                                         std::string* why) {
  std::string reason;
  std::optional<OffsetPowerLaw> law = fit_offset_power_law(x, loss, with_offset, &reason);
  if (law && !(law->exponent > 0)) {
    reason = "the fitted exponent " + number(law->exponent) + " would make the loss rise with " +
             (name[2] == 'N'   ? "N"
              : name[2] == 'D' ? "D"
                               : "C");
    law.reset();
  }
  if (!law) *why += (why->empty() ? "" : "; ") + std::string(name) + ": " + reason;
  return law;
}

// Small-sample AIC (AICc) of a law fitted by least squares of ln L with k
// parameters: n ln(RSS/n) + 2k + 2k(k+1)/(n-k-1); infinite when n <= k + 1.
double aicc(const OffsetPowerLaw& law, int k, const std::vector<double>& x,
            const std::vector<double>& loss) {
  const double n = static_cast<double>(x.size());
  if (n <= k + 1) return INFINITY;
  double rss = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double r = std::log(loss[i]) - std::log(law.at(x[i]));
    rss += r * r;
  }
  rss = std::max(rss, 1e-300);
  return n * std::log(rss / n) + 2.0 * k + 2.0 * k * (k + 1) / (n - k - 1);
}

// L(C) with E fits the minima at least as well as without (one parameter
// more), but over a decade or two of compute E is barely determined: a few
// noisy minima can put it just below the smallest loss seen, and the law then
// flattens where the losses keep falling (docs/prediction.md: the quickstart's
// L(C) with E = 1.48 predicted 1e13's loss 0.2 nats too high, the power law
// within 2%). So E is kept only when the minima support it: the lower AICc.
void choose_frontier_loss(const std::vector<double>& budget, const std::vector<double>& loss,
                          LawSet& laws) {
  const auto& plain = laws.kaplan_compute;
  const auto& offset = laws.kaplan_compute_offset;
  if (plain && offset) {
    const double with_e = aicc(*offset, 3, budget, loss), without = aicc(*plain, 2, budget, loss);
    const bool use_e = with_e < without;
    laws.frontier_loss = use_e ? offset : plain;
    laws.frontier_loss_choice =
        std::string(use_e ? "with E" : "without E") + ": AICc " + number(with_e) +
        " with E, " + number(without) + " without, on " + std::to_string(budget.size()) +
        " minima";
  } else {
    laws.frontier_loss = offset ? offset : plain;
    laws.frontier_loss_choice = offset ? "with E (the only one fitted)"
                                : plain ? "without E (E needs 4 budgets)"
                                        : "";
  }
}

// The RMS residual of ln D regressed on ln N over the distinct runs.
double independent_spread(const std::vector<double>& params, const std::vector<double>& tokens) {
  const size_t n = params.size();
  double su = 0, sv = 0, suu = 0, suv = 0;
  for (size_t i = 0; i < n; ++i) {
    const double u = std::log(params[i]), v = std::log(tokens[i]);
    su += u, sv += v, suu += u * u, suv += u * v;
  }
  const double count = static_cast<double>(n);
  const double var_u = suu - su * su / count;
  const double slope = var_u > 0 ? (suv - su * sv / count) / var_u : 0;
  const double intercept = (sv - slope * su) / count;
  double squares = 0;
  for (size_t i = 0; i < n; ++i) {
    const double r = std::log(tokens[i]) - intercept - slope * std::log(params[i]);
    squares += r * r;
  }
  return std::sqrt(squares / count);
}

// Approach 1's points from the curves of the distinct runs `runs`.
Envelope make_envelope(const FitData& data, const CurveGrid& grid, const std::vector<int64_t>& runs,
                       EnvelopeMode mode) {
  Envelope envelope;
  envelope.mode = mode;
  auto add = [&](double flops, int64_t run, double loss, bool run_end) {
    const Observation& p = data.points[run];
    envelope.flops.push_back(flops);
    envelope.params.push_back(p.params);
    envelope.tokens.push_back(flops * p.tokens / p.flops);  // the tokens seen by then
    envelope.loss.push_back(loss);
    envelope.run_end.push_back(run_end);
  };
  if (mode == EnvelopeMode::kAll) {
    for (size_t g = 0; g < grid.flops.size(); ++g) {
      int64_t best = -1;
      float best_loss = INFINITY;
      for (int64_t i : runs) {
        if (grid.loss[i].empty()) continue;
        const float l = grid.loss[i][g];
        if (l < best_loss) best_loss = l, best = i;
      }
      if (best >= 0)
        add(grid.flops[g], best, best_loss, grid.flops[g] >= kAnnealedShare * grid.end_flops[best]);
    }
    return envelope;
  }
  // Run ends only: each budget's lowest end, if lower than every smaller budget's.
  std::map<double, int64_t> best_of_budget;
  for (int64_t i : runs) {
    if (grid.loss[i].empty()) continue;
    auto [it, added] = best_of_budget.emplace(data.points[i].budget, i);
    if (!added && grid.end_loss[i] < grid.end_loss[it->second]) it->second = i;
  }
  double lowest = INFINITY;
  for (const auto& [budget, i] : best_of_budget) {
    if (!(grid.end_loss[i] < lowest)) continue;
    lowest = grid.end_loss[i];
    add(grid.end_flops[i], i, grid.end_loss[i], true);
  }
  return envelope;
}

}  // namespace

int64_t Envelope::run_ends() const {
  return static_cast<int64_t>(std::count(run_end.begin(), run_end.end(), true));
}

CurveGrid make_curve_grid(const FitData& data) {
  CurveGrid grid;
  if (data.curves.empty() || data.budgets.size() < 2) return grid;
  const double lo = std::log(data.budgets.front()), hi = std::log(data.budgets.back());
  for (int i = 0; i < kEnvelopePoints; ++i)
    grid.flops.push_back(std::exp(lo + (hi - lo) * i / (kEnvelopePoints - 1)));
  grid.loss.resize(data.points.size());
  grid.end_flops.assign(data.points.size(), NAN);
  grid.end_loss.assign(data.points.size(), NAN);
  for (const LossCurve& curve : data.curves) {
    const size_t n = curve.flops.size();
    if (n < 2) continue;
    // Centred moving average over ±2% of the records: step-to-step noise of
    // the training loss would otherwise pick the envelope's run.
    const size_t half = std::max<size_t>(1, n / 50);
    std::vector<double> prefix(n + 1, 0);
    for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + curve.loss[i];
    std::vector<double> smooth(n);
    for (size_t i = 0; i < n; ++i) {
      const size_t a = i >= half ? i - half : 0, b = std::min(n, i + half + 1);
      smooth[i] = (prefix[b] - prefix[a]) / static_cast<double>(b - a);
    }
    grid.end_flops[curve.observation] = curve.flops.back();
    grid.end_loss[curve.observation] = smooth.back();
    std::vector<float>& out = grid.loss[curve.observation];
    out.assign(grid.flops.size(), NAN);
    size_t j = 0;
    for (size_t g = 0; g < grid.flops.size(); ++g) {
      const double c = grid.flops[g];
      if (c < curve.flops.front() || c > curve.flops.back() * (1 + 1e-9)) continue;
      while (j + 1 < n && curve.flops[j + 1] < c) ++j;
      if (j + 1 >= n) {
        out[g] = static_cast<float>(smooth[n - 1]);
        continue;
      }
      const double x0 = std::log(curve.flops[j]), x1 = std::log(curve.flops[j + 1]);
      const double t = x1 > x0 ? (std::log(c) - x0) / (x1 - x0) : 1;
      out[g] = static_cast<float>(smooth[j] + t * (smooth[j + 1] - smooth[j]));
    }
  }
  return grid;
}

LawSet fit_laws(const FitData& data, const CurveGrid& grid, const std::vector<int64_t>& sample,
                const AnalysisOptions& options, const LawSet* reference) {
  LawSet laws;
  const double k = data.flops_per_param_token;
  // A replicate refits only what the full data could fit.
  const bool fit_a1 = wants(options, 1) && (!reference || reference->a1_params);
  const bool fit_a2 = wants(options, 2) && (!reference || reference->a2_params);
  const bool fit_a3 = wants(options, 3) && (!reference || reference->usable_a3());

  // ---- approach 2: one parabola per IsoFLOP profile -------------------------
  for (double budget : data.budgets) laws.profiles.push_back(fit_profile(data, sample, budget, k));
  std::vector<double> minima_budget, minima_params, minima_tokens, minima_loss;
  std::string lost;  // budgets whose minimum this replicate lost
  for (size_t b = 0; b < laws.profiles.size(); ++b) {
    const Profile& p = laws.profiles[b];
    // A replicate goes through the full data's minima: no more, no fewer.
    const bool in_reference = !reference || reference->profiles[b].parabola;
    if (!in_reference) continue;
    if (!p.parabola) {
      if (reference) lost += (lost.empty() ? "" : "; ") + format_sci(p.budget) + ": " + p.why;
      continue;
    }
    minima_budget.push_back(p.budget);
    minima_params.push_back(p.params_opt);
    minima_tokens.push_back(p.tokens_opt);
    minima_loss.push_back(p.loss_opt);
  }
  std::string frontier_why;  // why the laws through the minima cannot be fitted
  if (!lost.empty())
    frontier_why = "a resampled IsoFLOP profile lost its minimum (budget " + lost + ")";
  else if (minima_budget.size() < 2)
    frontier_why = no_minima_reason(laws.profiles, minima_budget.size());
  if (fit_a2) {
    if (frontier_why.empty()) {
      std::string why;
      laws.a2_params = fit_power_law(minima_budget, minima_params, &why);
      laws.a2_tokens = fit_power_law(minima_budget, minima_tokens, &why);
      if (!laws.a2_params || !laws.a2_tokens) {
        laws.why["a2"] = "the power laws through the minima: " + why;
      } else {
        const std::string contradiction =
            allocation_contradiction(*laws.a2_params, *laws.a2_tokens);
        if (!contradiction.empty())
          laws.why["a2"] = "the fitted law contradicts its definition: " + contradiction;
      }
      if (laws.why.count("a2")) laws.a2_params.reset(), laws.a2_tokens.reset();
    } else {
      laws.why["a2"] = frontier_why;
    }
  }

  // ---- Kaplan-style laws on the compute frontier ----------------------------
  if (frontier_why.empty()) {
    std::string why, why_offset;
    laws.kaplan_params = kaplan_law("L(N)", minima_params, minima_loss, false, &why);
    laws.kaplan_tokens = kaplan_law("L(D)", minima_tokens, minima_loss, false, &why);
    laws.kaplan_compute = kaplan_law("L(C)", minima_budget, minima_loss, false, &why);
    laws.kaplan_params_offset = kaplan_law("L(N)", minima_params, minima_loss, true, &why_offset);
    laws.kaplan_tokens_offset = kaplan_law("L(D)", minima_tokens, minima_loss, true, &why_offset);
    laws.kaplan_compute_offset = kaplan_law("L(C)", minima_budget, minima_loss, true, &why_offset);
    if (!why.empty()) laws.why["kaplan"] = why;
    if (!why_offset.empty()) laws.why["kaplan_offset"] = why_offset;
    choose_frontier_loss(minima_budget, minima_loss, laws);
  } else {
    laws.why["kaplan"] = laws.why["kaplan_offset"] = frontier_why;
  }

  // ---- approach 1: the envelope of the training curves ----------------------
  if (fit_a1) {
    if (grid.flops.empty()) {
      laws.why["a1"] = data.curves.empty()
                           ? "needs training curves (a sweep's HDF5 file, not a table)"
                           : "needs at least 2 budgets";
    } else {
      std::vector<int64_t> runs(sample.begin(), sample.end());
      std::sort(runs.begin(), runs.end());
      runs.erase(std::unique(runs.begin(), runs.end()), runs.end());
      laws.envelope = make_envelope(data, grid, runs, options.envelope);
      const Envelope& e = laws.envelope;
      std::string why;
      laws.a1_params = fit_power_law(e.flops, e.params, &why);
      laws.a1_tokens = fit_power_law(e.flops, e.tokens, &why);
      if (!laws.a1_params || !laws.a1_tokens) {
        laws.why["a1"] = "the envelope (" + std::to_string(e.flops.size()) + " points): " + why;
      } else if (std::set<double>(e.params.begin(), e.params.end()).size() < 2) {
        laws.why["a1"] = "one model size is best at every FLOP count; the envelope has no trend";
      } else {
        const std::string contradiction =
            allocation_contradiction(*laws.a1_params, *laws.a1_tokens);
        if (!contradiction.empty())
          laws.why["a1"] = "the fitted law contradicts its definition: " + contradiction;
      }
      if (laws.why.count("a1")) laws.a1_params.reset(), laws.a1_tokens.reset();
    }
  }

  // ---- approach 3: L(N, D) = E + A/N^α + B/D^β -------------------------------
  if (fit_a3) {
    std::vector<double> params, tokens, loss, distinct_params, distinct_tokens;
    for (int64_t i : sample) {
      params.push_back(data.points[i].params);
      tokens.push_back(data.points[i].tokens);
      loss.push_back(data.points[i].loss);
    }
    for (int64_t i : std::set<int64_t>(sample.begin(), sample.end())) {
      distinct_params.push_back(data.points[i].params);
      distinct_tokens.push_back(data.points[i].tokens);
    }
    const size_t sizes = std::set<double>(params.begin(), params.end()).size();
    const size_t token_counts = std::set<double>(tokens.begin(), tokens.end()).size();
    const double spread =
        *std::max_element(loss.begin(), loss.end()) / *std::min_element(loss.begin(), loss.end()) -
        1;
    if (distinct_params.size() < 6 || sizes < 3 || token_counts < 3) {
      laws.why["a3"] =
          "needs at least 6 runs with 3 sizes and 3 token counts (5 parameters to fit)";
    } else if (independent_spread(distinct_params, distinct_tokens) < kMinIndependentSpread) {
      laws.why["a3"] =
          "needs at least 2 budgets, or runs whose N and D vary independently: here D is "
          "fixed by N (within one budget D = C/(k·N)), so the N and D terms cannot be told apart";
    } else if (spread < 1e-6) {
      laws.why["a3"] = "the losses do not vary";
    } else {
      ParametricFitOptions parametric = options.parametric;
      if (reference) parametric.starts = reference->a3->optima;
      laws.a3 = fit_parametric(params, tokens, loss, parametric);
      if (!laws.a3->usable()) laws.why["a3"] = laws.a3->why_unusable();
    }
  }
  return laws;
}

}  // namespace sweep::fit
