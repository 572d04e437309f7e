// `sweepd predict`: a fitted law projected to what the user asks for — the
// compute-optimal N and D for a compute budget (each approach), the loss of a
// model (N, D), or the inference-aware optimum for a target loss. The numbers
// and their intervals come from fit/planning.h; this file checks the options
// and prints.

#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/format.h"
#include "common/table.h"
#include "fit/fit_json.h"
#include "fit/planning.h"
#include "orchestrator/commands.h"
#include "orchestrator/fit_stage.h"

namespace sweep {
namespace {

nlohmann::json cost_json(const fit::ModelCost& c) {
  return {{"params", c.params},
          {"tokens", c.tokens},
          {"train_flops", c.train_flops},
          {"inference_flops", c.inference_flops},
          {"total_flops", c.total_flops()}};
}

}  // namespace

int predict_command(const PredictOptions& options) {
  const bool model = options.params > 0 || options.tokens > 0;
  const bool inference = options.target_loss > 0 || options.inference_tokens > 0;
  if (model && !(options.params > 0 && options.tokens > 0))
    throw UserError("predict: --params and --tokens go together");
  if (inference && !(options.target_loss > 0))
    throw UserError(
        "predict: --inference-tokens needs --target-loss (the loss the model must reach)");
  if (options.compute.empty() && !model && !inference)
    throw UserError(
        "predict: give --compute C, --params N --tokens D, or --target-loss L [--inference-tokens "
        "T]");

  FitCommandOptions fit_options = options.fit;
  fit_options.targets = options.compute;
  fit_options.job_targets = false;
  fit_options.holdout_budgets = 0;  // predict projects; `sweepd fit` backtests
  const FittedSweep fitted = fit_from_options(fit_options);
  const fit::Analysis& analysis = fitted.analysis;
  const double k = fitted.data.flops_per_param_token;

  // Only the asked-for targets, not the job's.
  nlohmann::json json = {{"source", fitted.data.source}, {"flops_per_param_token", k}};
  nlohmann::json projections = nlohmann::json::array();
  TextTable table({"target", "approach", "N", "D", "D/N", "loss"});
  bool any_row = false;
  for (const fit::Projection& p : analysis.projections) {
    if (std::find(options.compute.begin(), options.compute.end(), p.target.compute) ==
        options.compute.end())
      continue;
    table.add_row({target_name(p.target), approach_title(p.approach),
                   with_interval(p.params, count_text), with_interval(p.tokens, count_text),
                   with_interval(p.tokens_per_param, ratio_text),
                   with_interval(p.loss, loss_text)});
    projections.push_back(fit::to_json(p));
    any_row = true;
  }
  json["projections"] = projections;

  auto need_a3 = [&](const char* what) {
    if (!analysis.full.a3)
      throw UserError(
          std::string("predict: ") + what + " needs approach 3, which was not fitted: " +
          (analysis.laws.why.count("a3") ? analysis.laws.why.at("a3") : "not requested"));
  };
  if (model) {
    need_a3("--params/--tokens");
    const fit::Quantity loss = fit::model_loss(analysis, options.params, options.tokens);
    table.add_row({"N " + format_count(options.params) + ", D " + format_count(options.tokens),
                   approach_title(3), count_text(options.params), count_text(options.tokens),
                   ratio_text(options.tokens / options.params), with_interval(loss, loss_text)});
    json["model"] = {{"params", options.params},
                     {"tokens", options.tokens},
                     {"compute", k * options.params * options.tokens},
                     {"loss", fit::to_json(loss)}};
    any_row = true;
  }

  std::string inference_text;
  if (inference) {
    need_a3("--target-loss");
    std::string why;
    const auto estimate = fit::inference_aware_estimate(analysis, options.target_loss,
                                                        options.inference_tokens, &why);
    if (!estimate) throw UserError("predict: " + why);
    const fit::InferenceAwarePlan& plan = estimate->plan;
    TextTable t({"model of loss " + fixed(options.target_loss, 3), "N", "D", "D/N",
                 "training FLOPs", "inference FLOPs", "total FLOPs"});
    auto row = [&](const std::string& name, const fit::ModelCost& c, const fit::Quantity& n,
                   const fit::Quantity& d) {
      t.add_row({name, with_interval(n, count_text), with_interval(d, count_text),
                 ratio_text(c.tokens / c.params), sci_text(c.train_flops),
                 sci_text(c.inference_flops), sci_text(c.total_flops())});
    };
    row("inference-aware", plan.inference_aware, estimate->params, estimate->tokens);
    row("Chinchilla-optimal", plan.chinchilla, estimate->chinchilla_params,
        estimate->chinchilla_tokens);
    std::ostringstream text;
    text << "\nInference-aware optimum (Sardana et al. 2024) for "
         << format_count(options.inference_tokens)
         << " inference tokens, training C = " << fixed(k, 2) << "·N·D, inference "
         << fixed(k / 3, 2) << "·N per token\n";
    t.print(text);
    fit::Quantity percent = estimate->saving;
    percent.value *= 100, percent.lo *= 100, percent.hi *= 100;
    text << "Saving against the Chinchilla-optimal model of the same loss: "
         << with_interval(percent, [](double x) { return fixed(x, 1) + "%"; })
         << " of total FLOPs\n";
    inference_text = text.str();
    json["inference_aware"] = {{"target_loss", options.target_loss},
                               {"inference_tokens", options.inference_tokens},
                               {"inference_aware", cost_json(plan.inference_aware)},
                               {"chinchilla", cost_json(plan.chinchilla)},
                               {"saving", fit::to_json(estimate->saving)},
                               {"params_interval", {estimate->params.lo, estimate->params.hi}},
                               {"tokens_interval", {estimate->tokens.lo, estimate->tokens.hi}}};
  }

  if (options.fit.json) {
    std::cout << json.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fitted.data.source << ": " << analysis.replicates_done << " bootstrap replicates, "
            << static_cast<int>(std::lround(analysis.options.confidence * 100))
            << "% intervals\n\n";
  if (any_row) table.print(std::cout);
  std::cout << inference_text;
  for (const std::string& w : analysis.warnings) std::cout << "note: " << w << "\n";
  return kExitOk;
}

}  // namespace sweep
