// `sweepd capacity`: what compute costs in time on hardware, or what fits in
// a given time; with --fit, the compute-optimal model for that compute. The
// arithmetic (FLOPs, FLOP/s, days, GPU-hours) is fit/planning.h's; this file
// checks the options and prints.

#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/format.h"
#include "common/table.h"
#include "fit/planning.h"
#include "model/hardware.h"
#include "orchestrator/commands.h"
#include "orchestrator/fit_stage.h"

namespace sweep {
namespace {

std::string gpus_text(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%g", x);
  return buffer;
}

}  // namespace

int capacity_command(const CapacityOptions& options) {
  const int given =
      (options.flops > 0) + (options.params > 0 || options.tokens > 0) + (options.days > 0);
  if (given != 1)
    throw UserError("capacity: give exactly one of --flops C, --params N --tokens D, or --days T");
  if ((options.params > 0) != (options.tokens > 0))
    throw UserError("capacity: --params and --tokens go together");
  if (!(options.mfu > 0 && options.mfu <= 1)) throw UserError("capacity: --mfu must be in (0, 1]");
  if (!(options.gpus > 0)) throw UserError("capacity: --gpus must be positive");
  double peak = options.peak_tflops * 1e12;
  std::string hardware = "custom (" + fixed(options.peak_tflops, 0) + " TFLOP/s)";
  if (peak <= 0) {
    const Hardware* a = find_hardware(options.gpu);
    if (!a)
      throw UserError("capacity: unknown --gpu '" + options.gpu + "'; presets: " +
                      hardware_names() + " (or --peak-tflops)");
    peak = a->peak_flops;
    hardware = a->label + " (" + fixed(peak / 1e12, 0) + " TFLOP/s dense bf16)";
  }
  nlohmann::json json = {
      {"hardware", hardware}, {"peak_flops", peak}, {"gpus", options.gpus}, {"mfu", options.mfu}};
  std::ostringstream out;
  out << gpus_text(options.gpus) << " × " << hardware << " at " << fixed(100 * options.mfu, 0)
      << "% MFU = " << sci_text(options.gpus * peak * options.mfu) << " FLOP/s\n";

  double flops = options.flops;
  if (options.days > 0) {
    const fit::CapacityPlan plan =
        fit::capacity_for_days(options.days, peak, options.gpus, options.mfu);
    flops = plan.flops;
    out << "In " << fixed(options.days, 1) << " days: " << sci_text(flops) << " FLOPs\n";
    json["days"] = options.days;
    json["flops"] = flops;
  } else {
    if (options.params > 0) {
      flops = 6 * options.params * options.tokens;
      out << "N = " << format_count(options.params) << ", D = " << format_count(options.tokens)
          << ": 6·N·D = " << sci_text(flops) << " FLOPs\n";
      json["params"] = options.params;
      json["tokens"] = options.tokens;
    }
    const fit::CapacityPlan plan = fit::capacity_for_flops(flops, peak, options.gpus, options.mfu);
    out << sci_text(flops) << " FLOPs take " << fixed(plan.days, 1) << " days ("
        << format_count(plan.gpu_hours) << " GPU-hours)\n";
    json["flops"] = flops;
    json["days"] = plan.days;
    json["gpu_hours"] = plan.gpu_hours;
  }

  if (!options.fit_path.empty()) {
    FitCommandOptions fit_options;
    fit_options.path = options.fit_path;
    fit_options.targets = {flops};
    fit_options.job_targets = false;
    fit_options.holdout_budgets = 0;
    fit_options.distance_backtest = false;
    const FittedSweep fitted = fit_from_options(fit_options);
    nlohmann::json models = nlohmann::json::array();
    TextTable table({"approach", "N_opt", "D_opt", "D/N", "loss"});
    for (const fit::Projection& p : fitted.analysis.projections) {
      if (p.target.compute != flops) continue;
      table.add_row({approach_title(p.approach), with_interval(p.params, count_text),
                     with_interval(p.tokens, count_text),
                     with_interval(p.tokens_per_param, ratio_text),
                     with_interval(p.loss, loss_text)});
      models.push_back({{"approach", p.approach},
                        {"params", p.params.value},
                        {"tokens", p.tokens.value},
                        {"loss", p.loss.value},
                        {"loss_lo", p.loss.lo},
                        {"loss_hi", p.loss.hi}});
    }
    out << "\nCompute-optimal model for " << sci_text(flops) << " FLOPs, from " << options.fit_path
        << ":\n";
    table.print(out);
    json["compute_optimal"] = models;
  }
  if (options.json)
    std::cout << json.dump(2) << "\n";
  else
    std::cout << out.str();
  return kExitOk;
}

}  // namespace sweep
