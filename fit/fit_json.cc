#include "fit/fit_json.h"

#include <cmath>

namespace sweep::fit {
namespace {

using nlohmann::json;

// NaN and infinities become null (JSON has neither).
json number(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

json power_law(const std::optional<PowerLaw>& law) {
  if (!law) return nullptr;
  return {{"coefficient", law->coefficient}, {"exponent", law->exponent}};
}

json offset_law(const std::optional<OffsetPowerLaw>& law) {
  if (!law) return nullptr;
  return {{"E", law->E}, {"scale", law->scale}, {"exponent", law->exponent}};
}

json why_of(const LawSet& laws, const std::string& name) {
  auto it = laws.why.find(name);
  return it == laws.why.end() ? json(nullptr) : json(it->second);
}

json law_set(const LawSet& laws) {
  json profiles = json::array();
  for (const Profile& p : laws.profiles) {
    json profile = {{"budget", p.budget},
                    {"runs", p.points.size()},
                    {"why", p.why.empty() ? json(nullptr) : json(p.why)}};
    if (p.parabola) {
      profile["parabola"] = {
          {"c0", p.parabola->c0}, {"c1", p.parabola->c1}, {"c2", p.parabola->c2}};
      profile["params_opt"] = p.params_opt;
      profile["tokens_opt"] = p.tokens_opt;
      profile["loss_opt"] = p.loss_opt;
      profile["bracketed"] = p.bracketed;
    } else {
      profile["parabola"] = nullptr;
    }
    profiles.push_back(profile);
  }
  json out;
  out["approach1"] = {{"params", power_law(laws.a1_params)},
                      {"tokens", power_law(laws.a1_tokens)},
                      {"envelope", to_string(laws.envelope.mode)},
                      {"envelope_points", laws.envelope.flops.size()},
                      {"envelope_run_ends", laws.envelope.run_ends()},
                      {"why", why_of(laws, "a1")}};
  out["approach2"] = {{"params", power_law(laws.a2_params)},
                      {"tokens", power_law(laws.a2_tokens)},
                      {"profiles", profiles},
                      {"why", why_of(laws, "a2")}};
  // Approach 3's summary whenever it ran; its law only when usable().
  json a3 = {{"why", why_of(laws, "a3")}};
  if (laws.a3) {
    const ParametricFit& fit = *laws.a3;
    a3["summary"] = {
        {"termination", to_string(fit.termination)},
        {"message", fit.message},
        {"starts", fit.starts},
        {"converged_starts", fit.converged},
        {"usable", fit.usable()},
        {"warning", fit.few_converged() ? json("few starts converged") : json(nullptr)}};
  }
  if (const ParametricFit* fit = laws.usable_a3()) {
    const ParametricLaw& l = fit->law;
    a3.update({{"E", l.E},
               {"A", l.A},
               {"B", l.B},
               {"alpha", l.alpha},
               {"beta", l.beta},
               {"a", l.a()},
               {"b", l.b()},
               {"G", l.G()},
               {"objective", number(fit->objective)},
               {"starts", fit->starts},
               {"converged_starts", fit->converged}});
  }
  out["approach3"] = a3;
  out["kaplan"] = {{"params", offset_law(laws.kaplan_params)},
                   {"tokens", offset_law(laws.kaplan_tokens)},
                   {"compute", offset_law(laws.kaplan_compute)},
                   {"params_offset", offset_law(laws.kaplan_params_offset)},
                   {"tokens_offset", offset_law(laws.kaplan_tokens_offset)},
                   {"compute_offset", offset_law(laws.kaplan_compute_offset)},
                   {"why", why_of(laws, "kaplan")},
                   {"why_offset", why_of(laws, "kaplan_offset")}};
  return out;
}

// true / false, or null when the prediction has no interval.
json covered(Coverage coverage) {
  return coverage == Coverage::kNoInterval ? json(nullptr) : json(coverage == Coverage::kCovered);
}

json backtest_row(const BacktestRow& r) {
  return {{"budget", r.budget},
          {"largest_fitted_budget", r.largest_fitted},
          {"extrapolation", r.extrapolation},
          {"approach", r.approach},
          {"observed_params", r.observed_params},
          {"observed_loss", r.observed_loss},
          {"predicted_params", to_json(r.predicted_params)},
          {"predicted_loss", to_json(r.predicted_loss)},
          {"params_error", number(r.params_error)},
          {"loss_error", number(r.loss_error)},
          {"loss_relative_error", number(r.loss_relative_error)},
          {"params_covered", covered(r.params_covered)},
          {"loss_covered", covered(r.loss_covered)},
          {"params_coverage", to_string(r.params_covered)},
          {"loss_coverage", to_string(r.loss_covered)}};
}

json why_text(const std::string& why) { return why.empty() ? json(nullptr) : json(why); }

// An interval whose open sides (±∞) are null with a flag saying so.
json interval(const Interval& i) {
  json out = {{"value", number(i.value)}, {"lo", number(i.lo)}, {"hi", number(i.hi)},
              {"pairs", i.pairs}};
  if (std::isinf(i.lo)) out["lo_unbounded"] = true;
  if (std::isinf(i.hi)) out["hi_unbounded"] = true;
  return out;
}

json settings(const VariantInfo& info) {
  return {{"model", info.model}, {"train", info.train}, {"lr_note", info.lr_note}};
}

json comparison_json(const VariantStudy& study) {
  const Comparison& c = study.comparison;
  json frontiers = json::object();
  for (const VariantFit& v : study.variants) {
    if (!v.frontier) continue;
    frontiers[v.name] = {{"E", v.frontier->E},
                         {"scale", v.frontier->scale},
                         {"exponent", v.frontier->exponent},
                         {"flops_per_param_token", v.data.flops_per_param_token},
                         {"budgets", v.data.budgets}};
  }
  json pairs = json::array();
  for (const PairComparison& p : c.pairs) {
    json rows = json::array(), crossovers = json::array(), differences = json::array();
    for (const MultiplierRow& r : p.rows)
      rows.push_back({{"compute", r.compute},
                      {"where", r.where},
                      {"measured", r.measured},
                      {"loss_a", interval(r.loss_a)},
                      {"loss_b", interval(r.loss_b)},
                      {"multiplier", interval(r.multiplier)},
                      {"a_reaches", std::isfinite(r.multiplier.value)}});
    for (const Crossover& x : p.crossovers)
      crossovers.push_back({{"compute", interval(x.compute)},
                            {"inside_measured", x.inside_measured},
                            {"better_below", x.better_below},
                            {"better_above", x.better_above},
                            {"pairs_below", x.pairs_below},
                            {"pairs_above", x.pairs_above}});
    for (const SettingDifference& d : p.differences)
      differences.push_back({{"kind", d.kind}, {"key", d.key}, {"a", d.a}, {"b", d.b}});
    pairs.push_back({{"a", p.a},
                     {"b", p.b},
                     {"measured_range", {number(p.measured_lo), number(p.measured_hi)}},
                     {"searched_range", {p.searched_lo, p.searched_hi}},
                     {"replicate_pairs", p.replicate_pairs},
                     {"multiplier", rows},
                     {"crossovers", crossovers},
                     {"better", p.crossovers.empty() ? json(p.better) : json(nullptr)},
                     {"pairs_crossing", p.pairs_crossing},
                     {"differences", differences}});
  }
  return {{"frontier", to_string(c.source)},
          {"frontier_why", c.source_why},
          {"confidence", c.confidence},
          {"compared", c.compared},
          {"not_compared", c.not_compared},
          {"searched_range", {c.searched_lo, c.searched_hi}},
          {"frontiers", frontiers},
          {"pairs", pairs}};
}

json target(const Target& t) {
  json out = {{"name", t.name}};
  if (t.compute > 0)
    out["compute"] = t.compute;
  else
    out["params"] = t.params, out["tokens"] = t.tokens;
  return out;
}

}  // namespace

json to_json(const Quantity& q) {
  return {{"key", q.key},       {"label", q.label},   {"value", number(q.value)},
          {"lo", number(q.lo)}, {"hi", number(q.hi)}, {"replicates", q.replicates}};
}

json to_json(const Projection& p) {
  return {{"target", target(p.target)},
          {"approach", p.approach},
          {"params", to_json(p.params)},
          {"tokens", to_json(p.tokens)},
          {"tokens_per_param", to_json(p.tokens_per_param)},
          {"loss", to_json(p.loss)},
          {"compute", to_json(p.compute)}};
}

json to_json(const FitData& data, const Analysis& analysis) {
  json runs = json::array(), excluded = json::array();
  for (const Observation& p : data.points)
    runs.push_back({{"run", p.run_id},
                    {"params", p.params},
                    {"tokens", p.tokens},
                    {"flops", p.flops},
                    {"loss", p.loss},
                    {"budget", p.budget}});
  for (const Excluded& e : data.excluded)
    excluded.push_back({{"run", e.run_id}, {"reason", e.reason}});

  json tuning = json::array();
  for (const Tuning& t : data.tuning) {
    json candidates = json::array();
    for (const TuningCandidate& c : t.candidates) {
      json losses = json::array();
      for (double l : c.losses) losses.push_back(number(l));
      candidates.push_back({{"recipe", c.label},
                            {"losses", losses},
                            {"mean_loss", number(c.mean_loss)},
                            {"chosen", c.chosen}});
    }
    tuning.push_back({{"variant", t.variant},
                      {"budget", t.budget},
                      {"params", t.params},
                      {"how", t.how},
                      {"warnings", t.warnings},
                      {"used_by_grid", t.used},
                      {"candidates", candidates}});
  }

  json quantities = json::array();
  for (const Quantity& q : analysis.quantities) quantities.push_back(to_json(q));

  json projections = json::array();
  for (const Projection& p : analysis.projections) projections.push_back(to_json(p));

  const Backtest& bt = analysis.backtest;
  json rows = json::array();
  for (const BacktestRow& r : bt.rows) rows.push_back(backtest_row(r));
  json backtest = {{"fitted_budgets", bt.fitted_budgets},
                   {"held_out_budgets", bt.held_out_budgets},
                   {"flops_per_param_token", bt.flops_per_param_token},
                   {"rows", rows},
                   {"why", why_text(bt.why)}};
  if (!bt.fitted_budgets.empty()) backtest["laws"] = law_set(bt.laws);

  const DistanceBacktest& distance = analysis.distance;
  json distance_rows = json::array(), distance_summary = json::array(),
       distance_splits = json::array();
  for (const BacktestRow& r : distance.rows) distance_rows.push_back(backtest_row(r));
  for (const DistanceSummary& s : distance.summary)
    distance_summary.push_back({{"extrapolation", s.extrapolation},
                                {"approach", s.approach},
                                {"rows", s.rows},
                                {"mean_abs_loss_error", number(s.mean_abs_loss_error)},
                                {"mean_abs_params_error", number(s.mean_abs_params_error)},
                                {"loss_intervals", s.loss_intervals},
                                {"loss_covered", s.loss_covered},
                                {"params_intervals", s.params_intervals},
                                {"params_covered", s.params_covered}});
  for (const BacktestSplit& s : distance.splits) {
    json why = json::object();
    for (const auto& [law, text] : s.why) why[law] = text;
    distance_splits.push_back({{"fitted_budgets", s.fitted_budgets},
                               {"flops_per_param_token", s.flops_per_param_token},
                               {"why", why}});
  }

  const NoiseFloor& noise = analysis.noise;
  const json seed_noise = {{"loss_sd", number(noise.loss_sd.value)},
                           {"groups", noise.groups},
                           {"runs", noise.runs},
                           {"z", noise.z},
                           {"loss_interval_widening", number(noise.z * noise.loss_sd.value)}};

  json extrapolation = json::array();
  for (const ExtrapolationError& e : analysis.extrapolation)
    extrapolation.push_back({{"approach", e.approach}, {"c", number(e.c)}, {"rows", e.rows}});

  json failures = json::object();
  for (const auto& [law, count] : analysis.replicate_failures) failures[law] = count;
  json targets = json::array();
  for (const Target& t : analysis.options.targets) targets.push_back(target(t));

  return {{"source", data.source},
          {"flop_convention", data.flop_convention},
          {"param_convention", to_string(data.params)},
          {"flops_per_param_token", data.flops_per_param_token},
          {"budgets", data.budgets},
          {"runs", runs},
          {"excluded", excluded},
          {"tuning", tuning},
          {"notes", data.notes},
          {"options",
           {{"approaches", analysis.options.approaches},
            {"bootstrap", analysis.options.bootstrap},
            {"confidence", analysis.options.confidence},
            {"holdout_budgets", analysis.options.holdout_budgets},
            {"distance_backtest", analysis.options.distance_backtest},
            {"envelope", to_string(analysis.options.envelope)},
            {"seed", analysis.options.seed},
            {"targets", targets}}},
          {"laws", law_set(analysis.laws)},
          {"quantities", quantities},
          {"projections", projections},
          {"backtest", backtest},
          {"distance_backtest", distance_rows},
          {"distance_backtest_summary", distance_summary},
          {"distance_backtest_splits", distance_splits},
          {"distance_backtest_why", why_text(distance.why)},
          {"noise", seed_noise},
          {"extrapolation_error", extrapolation},
          {"replicates", analysis.replicates_done},
          {"bootstrapped", analysis.bootstrapped},
          {"replicate_failures", failures},
          {"warnings", analysis.warnings},
          {"seconds", analysis.seconds}};
}

json to_json(const VariantStudy& study) {
  const FitData& data = study.data;
  json variants = json::object(), order = json::array();
  for (const VariantFit& v : study.variants) {
    json entry = v.analysis ? to_json(v.data, *v.analysis) : json{{"why", v.why}};
    entry["variant"] = v.name;
    entry["settings"] = settings(v.info);
    variants[v.name] = entry;
    order.push_back(v.name);
  }
  json unattributed = json::array();
  for (const Excluded& e : data.excluded)
    if (e.variant.empty()) unattributed.push_back({{"run", e.run_id}, {"reason", e.reason}});
  const AnalysisOptions& options = study.options;
  json targets = json::array();
  for (const Target& t : options.targets) targets.push_back(target(t));
  return {{"source", data.source},
          {"flop_convention", data.flop_convention},
          {"param_convention", to_string(data.params)},
          {"budgets", data.budgets},
          {"notes", data.notes},
          {"excluded", unattributed},
          {"options",
           {{"approaches", options.approaches},
            {"bootstrap", options.bootstrap},
            {"confidence", options.confidence},
            {"distance_backtest", options.distance_backtest},
            {"envelope", to_string(options.envelope)},
            {"seed", options.seed},
            {"targets", targets}}},
          {"variant_order", order},
          {"variants", variants},
          {"comparison", comparison_json(study)}};
}

}  // namespace sweep::fit
