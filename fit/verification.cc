#include "fit/verification.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "common/format.h"
#include "fit/law_set.h"

namespace sweep::fit {
namespace {

constexpr const char* kMissing = "–";

// The profile whose budget is the predicted one, as --budgets matches (5%).
const Profile* profile_at(const Analysis& analysis, double compute) {
  for (const Profile& p : analysis.laws.profiles)
    if (std::abs(p.budget / compute - 1) <= 0.05) return &p;
  return nullptr;
}

Quantity quantity(double value, double lo, double hi) {
  Quantity q;
  q.value = value, q.lo = lo, q.hi = hi;
  return q;
}

Coverage inside(double value, double lo, double hi, double observed) {
  if (!std::isfinite(value) || !std::isfinite(observed)) return Coverage::kNoInterval;
  return coverage_of(quantity(value, lo, hi), observed);
}

std::string printf_number(const char* format, double x) {
  char text[48];
  std::snprintf(text, sizeof(text), format, x);
  return text;
}
std::string count(double x) { return std::isfinite(x) ? format_count(x) : kMissing; }
std::string loss(double x) { return std::isfinite(x) ? printf_number("%.3f", x) : kMissing; }
std::string percent(double share) {
  return std::isfinite(share) ? printf_number("%+.1f%%", 100 * share) : kMissing;
}
std::string nats_and_percent(double error, double observed) {
  if (!std::isfinite(error)) return kMissing;
  return printf_number("%+.3f", error) + " (" + percent(error / observed) + ")";
}
std::string with_interval(double value, double lo, double hi, std::string (*format)(double)) {
  if (!std::isfinite(value)) return kMissing;
  if (!std::isfinite(lo) || !std::isfinite(hi)) return format(value);
  return format(value) + " [" + format(lo) + ", " + format(hi) + "]";
}
// "yes", "no", "no interval"; "–" where there is nothing to compare.
std::string inside_text(Coverage c, double error) {
  if (!std::isfinite(error)) return kMissing;
  return c == Coverage::kCovered ? "yes" : c == Coverage::kNotCovered ? "no" : "no interval";
}

std::string list_text(const std::vector<int>& approaches) {
  std::string text;
  for (int a : approaches) text += (text.empty() ? "" : ", ") + std::to_string(a);
  return text;
}

nlohmann::json interval_json(double value, double lo, double hi) {
  return {{"value", value}, {"lo", lo}, {"hi", hi}};
}

}  // namespace

std::vector<Verification> verify_predictions(const FitData& data, const Analysis& analysis) {
  std::vector<Verification> out;
  for (const Prediction& prediction : data.predictions) {
    Verification v;
    v.prediction = prediction;
    if (const Profile* profile = profile_at(analysis, prediction.compute)) {
      v.budget = profile->budget;
      v.runs = profile->points.size();
      v.has_minimum = profile->parabola.has_value();
      v.why = profile->why;
      if (v.has_minimum) {
        v.params_opt = profile->params_opt;
        v.loss_opt = profile->loss_opt;
        v.bracketed = profile->bracketed;
      }
      for (int64_t i : profile->points) {
        const Observation& o = data.points[size_t(i)];
        if (v.best_run.empty() || o.loss < v.best_loss) {
          v.best_run = o.run_id;
          v.best_params = o.params;
          v.best_loss = o.loss;
        }
      }
    }
    // A prediction counts total parameters (predict --emit-job sizes its grid
    // so); N counted otherwise here is another quantity, not an error.
    const bool same_n = data.params == ParamConvention::kTotal;
    const double observed_n = same_n ? v.params_opt : NAN;
    const double best_n = same_n ? v.best_params : NAN;
    for (const PredictedOptimum& p : prediction.optima) {
      VerificationRow r;
      r.predicted = p;
      r.params_error = p.params / observed_n - 1;
      r.loss_error = p.loss - v.loss_opt;
      r.best_params_error = p.params / best_n - 1;
      r.best_loss_error = p.loss - v.best_loss;
      r.params_inside = inside(p.params, p.params_lo, p.params_hi, observed_n);
      r.loss_inside = inside(p.loss, p.loss_lo, p.loss_hi, v.loss_opt);
      r.best_params_inside = inside(p.params, p.params_lo, p.params_hi, best_n);
      r.best_loss_inside = inside(p.loss, p.loss_lo, p.loss_hi, v.best_loss);
      v.rows.push_back(r);
    }
    out.push_back(std::move(v));
  }
  return out;
}

void verification_section(Document& doc, const FitData& data, const Analysis& analysis) {
  const std::vector<Verification> verifications = verify_predictions(data, analysis);
  if (verifications.empty()) return;
  doc.heading("Prediction vs outcome");
  for (const Verification& v : verifications) {
    const Prediction& p = v.prediction;
    const bool envelope =
        std::find(p.approaches.begin(), p.approaches.end(), 1) != p.approaches.end();
    doc.paragraph(
        "Predicted on " + p.date + " from " + p.source + " for C = " + format_sci(p.compute) +
        " FLOPs (approaches " + list_text(p.approaches) + " fitted, " +
        std::to_string(p.bootstrap) + " bootstrap replicates, " +
        printf_number("%g", 100 * p.confidence) + "% intervals" +
        (envelope ? ", approach 1's envelope " + p.envelope : std::string()) +
        "); the sizes of the runs at that budget were chosen around approach " +
        std::to_string(p.approach) +
        "'s N_opt. Observed: the minimum of approach 2's parabola through those runs (the "
        "IsoFLOP profile) and the best run. N error: predicted / observed − 1; loss error: "
        "predicted − observed in nats (and relative to the observed loss); \"inside\": the "
        "observed value lies inside the predicted interval.");
    if (v.runs == 0) {
      doc.paragraph("No finished runs at C = " + format_sci(p.compute) +
                    " FLOPs yet: there is nothing to compare the prediction with.");
    } else if (!v.has_minimum) {
      doc.paragraph("The " + std::to_string(v.runs) + " runs at " + format_sci(v.budget) +
                    " FLOPs give no parabola minimum (" + v.why +
                    "): only the best run is compared.");
    } else if (!v.bracketed) {
      doc.paragraph(
          "The parabola's minimum lies outside the sizes trained (extrapolated): "
          "the sizes did not bracket the optimum.");
    }
    if (data.params != ParamConvention::kTotal)
      doc.paragraph("The prediction counts N as total parameters and this fit as " +
                    std::string(to_string(data.params)) +
                    " ones: only the losses are compared (--param-convention total compares N "
                    "too).");
    auto approach_label = [&](int approach) {
      return std::to_string(approach) + (approach == p.approach ? " (sizes centred on it)" : "");
    };
    Table params({"Approach", "Predicted N_opt", "Parabola minimum", "N error", "Inside",
                  "Best run", "N error", "Inside"},
                 /*align=*/"lr");
    Table losses({"Approach", "Predicted loss", "Parabola minimum", "Loss error", "Inside",
                  "Best run", "Loss error", "Inside"},
                 /*align=*/"lr");
    for (const VerificationRow& r : v.rows) {
      const PredictedOptimum& o = r.predicted;
      params.rows.push_back(
          {approach_label(o.approach), with_interval(o.params, o.params_lo, o.params_hi, count),
           count(v.params_opt), percent(r.params_error),
           inside_text(r.params_inside, r.params_error), count(v.best_params),
           percent(r.best_params_error), inside_text(r.best_params_inside, r.best_params_error)});
      if (!std::isfinite(o.loss)) continue;
      losses.rows.push_back({approach_label(o.approach),
                             with_interval(o.loss, o.loss_lo, o.loss_hi, loss), loss(v.loss_opt),
                             nats_and_percent(r.loss_error, v.loss_opt),
                             inside_text(r.loss_inside, r.loss_error), loss(v.best_loss),
                             nats_and_percent(r.best_loss_error, v.best_loss),
                             inside_text(r.best_loss_inside, r.best_loss_error)});
    }
    doc.table(params, "");
    doc.table(losses, "No approach predicted a loss (its L(C) was not fitted).");
    if (!v.best_run.empty())
      doc.paragraph("Best run: " + v.best_run + " (N = " + count(v.best_params) + ", loss " +
                    loss(v.best_loss) + " nats/token), of " + std::to_string(v.runs) + " runs at " +
                    format_sci(v.budget) + " FLOPs.");
  }
}

nlohmann::json with_verification(nlohmann::json fit_json, const FitData& data,
                                 const Analysis& analysis) {
  if (data.predictions.empty()) return fit_json;
  nlohmann::json out = nlohmann::json::array();
  for (const Verification& v : verify_predictions(data, analysis)) {
    const Prediction& p = v.prediction;
    nlohmann::json rows = nlohmann::json::array();
    for (const VerificationRow& r : v.rows) {
      const PredictedOptimum& o = r.predicted;
      rows.push_back({{"approach", o.approach},
                      {"params", interval_json(o.params, o.params_lo, o.params_hi)},
                      {"tokens", interval_json(o.tokens, o.tokens_lo, o.tokens_hi)},
                      {"loss", interval_json(o.loss, o.loss_lo, o.loss_hi)},
                      {"params_error", r.params_error},
                      {"params_inside", to_string(r.params_inside)},
                      {"loss_error", r.loss_error},
                      {"loss_inside", to_string(r.loss_inside)},
                      {"best_run_params_error", r.best_params_error},
                      {"best_run_params_inside", to_string(r.best_params_inside)},
                      {"best_run_loss_error", r.best_loss_error},
                      {"best_run_loss_inside", to_string(r.best_loss_inside)}});
    }
    out.push_back({{"source", p.source},
                   {"date", p.date},
                   {"compute", p.compute},
                   {"approach", p.approach},
                   {"confidence", p.confidence},
                   {"bootstrap", p.bootstrap},
                   {"envelope", p.envelope},
                   {"approaches", p.approaches},
                   {"observed",
                    {{"budget", v.budget},
                     {"runs", v.runs},
                     {"params", v.params_opt},
                     {"loss", v.loss_opt},
                     {"bracketed", v.bracketed},
                     {"why", v.why},
                     {"best_run", v.best_run},
                     {"best_run_params", v.best_params},
                     {"best_run_loss", v.best_loss}}},
                   {"rows", rows}});
  }
  fit_json["verification"] = out;
  return fit_json;
}

Analysis profiles_only_analysis(const FitData& data, const AnalysisOptions& options,
                                const std::string& why) {
  Analysis analysis;
  analysis.options = options;
  analysis.options.bootstrap = 0;
  analysis.options.holdout_budgets = 0;
  analysis.flops_per_param_token = data.flops_per_param_token;
  std::vector<int64_t> every_run(data.points.size());
  std::iota(every_run.begin(), every_run.end(), 0);
  analysis.laws = fit_laws(data, make_curve_grid(data), every_run, options, /*reference=*/nullptr);
  analysis.backtest.why = "no law was fitted";
  analysis.warnings.push_back(why);
  return analysis;
}

}  // namespace sweep::fit
