// `sweepd fit`, `predict`, `capacity` and `report`: the fit stage on the
// command line. The work is in fit/; this file reads options (and a sweep's
// own [fit] section), runs the analysis and prints it.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/format.h"
#include "common/log.h"
#include "common/table.h"
#include "fit/analysis.h"
#include "fit/fit_json.h"
#include "fit/planning.h"
#include "fit/report.h"
#include "orchestrator/commands.h"
#include "orchestrator/fit_stage.h"
#include "orchestrator/job_spec.h"
#include "storage/store.h"

namespace sweep {
namespace {

using fit::Analysis;
using fit::FitData;
using fit::Quantity;

std::string fixed(double x, int decimals) {
  if (!std::isfinite(x)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, x);
  return buffer;
}

using Format = std::string (*)(double);
std::string exponent_text(double x) { return fixed(x, 3); }
std::string loss_text(double x) { return fixed(x, 3); }
std::string count_text(double x) { return std::isfinite(x) ? format_count(x) : "-"; }
std::string sci_text(double x) { return std::isfinite(x) ? format_sci(x, 3) : "-"; }
std::string ratio_text(double x) {
  if (!std::isfinite(x)) return "-";
  if (x >= 1e5 || x < 0.01) return format_sci(x, 3);
  return fixed(x, x < 10 ? 2 : 1);
}
std::string gpus_text(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%g", x);
  return buffer;
}

std::string with_interval(const Quantity& q, Format format) {
  if (!std::isfinite(q.value)) return "-";
  if (!std::isfinite(q.lo)) return format(q.value);
  return format(q.value) + " [" + format(q.lo) + ", " + format(q.hi) + "]";
}
std::string with_interval(const Quantity* q, Format format) {
  return q ? with_interval(*q, format) : "-";
}

std::string target_name(const fit::Target& t) {
  if (!t.name.empty()) return t.name;
  if (t.compute > 0) return format_sci(t.compute) + " FLOPs";
  return "N " + format_count(t.params) + ", D " + format_count(t.tokens);
}

std::string approach_title(int approach) {
  switch (approach) {
    case 1:
      return "1 envelope";
    case 2:
      return "2 IsoFLOP parabolas";
    default:
      return "3 parametric L(N, D)";
  }
}

void print_analysis(const FitData& data, const Analysis& analysis, std::ostream& out) {
  const int percent = static_cast<int>(std::lround(analysis.options.confidence * 100));
  out << data.source << ": " << data.points.size() << " runs in " << data.budgets.size()
      << " budgets; FLOPs counted as " << data.flop_convention
      << " (C = " << fixed(data.flops_per_param_token, 2) << "·N·D); " << analysis.replicates_done
      << " bootstrap replicates, " << percent << "% intervals; "
      << format_duration(analysis.seconds) << "\n\n";

  out << "Compute-optimal allocation: N_opt ∝ C^a, D_opt ∝ C^b\n";
  TextTable allocation({"approach", "a", "b"});
  for (int approach : {1, 2, 3}) {
    const std::string key = std::string("a").append(std::to_string(approach));
    if (!analysis.find(key + ".a")) continue;
    allocation.add_row({approach_title(approach),
                        with_interval(analysis.find(key + ".a"), exponent_text),
                        with_interval(analysis.find(key + ".b"), exponent_text)});
  }
  allocation.print(out);

  if (analysis.laws.a3) {
    out << "\nApproach 3: L(N, D) = E + A/N^α + B/D^β (" << analysis.laws.a3->starts
        << " starts)\n";
    TextTable law({"E", "A", "B", "α", "β"});
    law.add_row({with_interval(analysis.find("a3.E"), loss_text),
                 with_interval(analysis.find("a3.A"), sci_text),
                 with_interval(analysis.find("a3.B"), sci_text),
                 with_interval(analysis.find("a3.alpha"), exponent_text),
                 with_interval(analysis.find("a3.beta"), exponent_text)});
    law.print(out);
  }

  out << "\nIsoFLOP minima (approach 2)\n";
  TextTable profiles({"budget", "runs", "N_opt", "D_opt", "D/N", "loss"});
  for (const fit::Profile& p : analysis.laws.profiles) {
    const std::string key = "profile." + format_sci(p.budget);
    if (!p.parabola) {
      profiles.add_row({format_sci(p.budget), std::to_string(p.points.size()),
                        "no minimum: " + p.why, "", "", ""});
      continue;
    }
    profiles.add_row({format_sci(p.budget), std::to_string(p.points.size()),
                      with_interval(analysis.find(key + ".params_opt"), count_text),
                      with_interval(analysis.find(key + ".tokens_opt"), count_text),
                      ratio_text(p.tokens_opt / p.params_opt),
                      with_interval(analysis.find(key + ".loss_opt"), loss_text)});
  }
  profiles.print(out);

  out << "\nKaplan-style laws on the compute frontier: L(x) = E + (x_c/x)^α\n";
  TextTable kaplan({"law", "α", "x_c", "E"});
  for (const char* form : {"kaplan", "kaplan_offset"}) {
    for (const char* x : {"params", "tokens", "compute"}) {
      const std::string key = std::string(form) + "." + x;
      if (!analysis.find(key + ".exponent")) continue;
      const std::string name = std::string("L(") +
                               (x[0] == 'p'   ? "N"
                                : x[0] == 't' ? "D"
                                              : "C") +
                               ")";
      kaplan.add_row(
          {name + (form[6] == '_' ? " with E" : ""),
           with_interval(analysis.find(key + ".exponent"), exponent_text),
           with_interval(analysis.find(key + ".scale"), sci_text),
           analysis.find(key + ".E") ? with_interval(analysis.find(key + ".E"), loss_text) : "0"});
    }
  }
  kaplan.print(out);

  if (!analysis.projections.empty()) {
    out << "\nProjections\n";
    TextTable projections({"target", "approach", "N", "D", "D/N", "loss", "FLOPs"});
    for (const fit::Projection& p : analysis.projections)
      projections.add_row({target_name(p.target), std::to_string(p.approach),
                           with_interval(p.params, count_text), with_interval(p.tokens, count_text),
                           with_interval(p.tokens_per_param, ratio_text),
                           with_interval(p.loss, loss_text), sci_text(p.compute.value)});
    projections.print(out);
  }

  const fit::Backtest& bt = analysis.backtest;
  out << "\nBacktest";
  if (bt.rows.empty()) {
    out << ": " << bt.why << "\n";
  } else {
    out << ": fit on " << bt.fitted_budgets.size() << " budgets up to "
        << format_sci(bt.fitted_budgets.back()) << ", predict the held-out ";
    for (size_t i = 0; i < bt.held_out_budgets.size(); ++i)
      out << (i ? ", " : "") << format_sci(bt.held_out_budgets[i]);
    out << "\n";
    TextTable rows({"budget", "approach", "N_opt predicted", "observed", "error", "in interval",
                    "loss predicted", "observed", "error", "in interval"});
    for (const fit::BacktestRow& r : bt.rows)
      rows.add_row({format_sci(r.budget), std::to_string(r.approach),
                    with_interval(r.predicted_params, count_text), count_text(r.observed_params),
                    fixed(100 * r.params_error, 1) + "%", r.params_covered ? "yes" : "no",
                    with_interval(r.predicted_loss, loss_text), loss_text(r.observed_loss),
                    std::isfinite(r.loss_error) ? fixed(r.loss_error, 3) : "-",
                    std::isfinite(r.loss_error) ? (r.loss_covered ? "yes" : "no") : "-"});
    rows.print(out);
    if (!bt.why.empty()) out << bt.why << "\n";
  }

  if (!data.excluded.empty()) {
    out << "\nNot fitted\n";
    for (const fit::Excluded& e : data.excluded)
      out << "  " << e.run_id << ": " << e.reason << "\n";
  }
  std::vector<std::string> notes = data.notes;
  notes.insert(notes.end(), analysis.warnings.begin(), analysis.warnings.end());
  if (!notes.empty()) {
    out << "\nNotes\n";
    for (const std::string& n : notes) out << "  " << n << "\n";
  }
}

}  // namespace

FittedSweep fit_from_options(const FitCommandOptions& options) {
  FittedSweep fitted;
  fit::InputOptions input;
  input.drop_highest = options.drop_highest;
  input.budgets = options.budgets;
  fitted.data = fit::load_fit_data(options.path, input);

  // Defaults: the sweep's own [fit] section when the file is a sweep.
  fit::AnalysisOptions analysis;
  analysis.approaches = {1, 2, 3};
  analysis.bootstrap = 1000;
  analysis.holdout_budgets = fitted.data.budgets.size() >= 3 ? 1 : 0;
  if (!fit::is_table_path(options.path)) {
    const SweepStore store = SweepStore::open_read_only(options.path);
    if (!store.info().job_text.empty()) {
      const JobSpec job = parse_job_text(store.info().job_text, store.info().job_path);
      analysis.approaches = job.fit.approaches;
      analysis.bootstrap = job.fit.bootstrap;
      analysis.holdout_budgets = job.fit.holdout_budgets;
      if (options.job_targets)
        for (const FitTarget& t : job.fit.targets)
          analysis.targets.push_back({t.name, t.compute, t.params, t.tokens});
    }
  }
  if (!options.approaches.empty()) analysis.approaches = options.approaches;
  if (options.bootstrap >= 0) analysis.bootstrap = options.bootstrap;
  if (options.holdout_budgets >= 0) analysis.holdout_budgets = options.holdout_budgets;
  for (double c : options.targets) analysis.targets.push_back({"", c, 0, 0});
  analysis.confidence = options.confidence;
  analysis.seed = options.seed;
  analysis.threads = options.threads;

  log_info("fitting " + std::to_string(fitted.data.points.size()) + " runs in " +
           std::to_string(fitted.data.budgets.size()) + " budgets: approach 3 from 4,500 starts, " +
           std::to_string(analysis.bootstrap) + " bootstrap replicates" +
           (analysis.holdout_budgets > 0 ? ", backtest" : ""));
  fitted.analysis = fit::analyze(fitted.data, analysis);
  return fitted;
}

int fit_command(const FitCommandOptions& options) {
  const FittedSweep fitted = fit_from_options(options);
  if (options.json) {
    std::cout << fit::to_json(fitted.data, fitted.analysis).dump(2) << "\n";
  } else {
    print_analysis(fitted.data, fitted.analysis, std::cout);
  }
  return kExitOk;
}

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
  FittedSweep fitted = fit_from_options(fit_options);
  // Only the asked-for targets, not the job's.
  fit::Analysis& analysis = fitted.analysis;
  std::vector<fit::Projection> asked;
  for (const fit::Projection& p : analysis.projections)
    if (std::find(options.compute.begin(), options.compute.end(), p.target.compute) !=
        options.compute.end())
      asked.push_back(p);
  const double k = fitted.data.flops_per_param_token;
  const double confidence = analysis.options.confidence;

  nlohmann::json json = {{"source", fitted.data.source}, {"flops_per_param_token", k}};
  nlohmann::json projections = nlohmann::json::array();
  TextTable table({"target", "approach", "N", "D", "D/N", "loss"});
  for (const fit::Projection& p : asked) {
    table.add_row({target_name(p.target), approach_title(p.approach),
                   with_interval(p.params, count_text), with_interval(p.tokens, count_text),
                   with_interval(p.tokens_per_param, ratio_text),
                   with_interval(p.loss, loss_text)});
    projections.push_back(fit::to_json(p));
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
    const Quantity loss = fit::interval_of(
        "loss", analysis.full, analysis.replicates, confidence, [&](const fit::ReplicateLaws& r) {
          return r.a3 ? r.a3->loss(options.params, options.tokens) : double(NAN);
        });
    table.add_row({"N " + format_count(options.params) + ", D " + format_count(options.tokens),
                   approach_title(3), count_text(options.params), count_text(options.tokens),
                   ratio_text(options.tokens / options.params), with_interval(loss, loss_text)});
    json["model"] = {{"params", options.params},
                     {"tokens", options.tokens},
                     {"compute", k * options.params * options.tokens},
                     {"loss", fit::to_json(loss)}};
  }

  std::string inference_text;
  if (inference) {
    need_a3("--target-loss");
    std::string why;
    const auto plan = fit::inference_aware_optimum(*analysis.full.a3, options.target_loss,
                                                   options.inference_tokens, k, &why);
    if (!plan) throw UserError("predict: " + why);
    auto interval = [&](const char* key, double (*pick)(const fit::InferenceAwarePlan&)) {
      return fit::interval_of(
          key, analysis.full, analysis.replicates, confidence, [&](const fit::ReplicateLaws& r) {
            if (!r.a3) return double(NAN);
            const auto p = fit::inference_aware_optimum(*r.a3, options.target_loss,
                                                        options.inference_tokens, k, nullptr);
            return p ? pick(*p) : double(NAN);
          });
    };
    const Quantity n = interval(
        "params", [](const fit::InferenceAwarePlan& p) { return p.inference_aware.params; });
    const Quantity d = interval(
        "tokens", [](const fit::InferenceAwarePlan& p) { return p.inference_aware.tokens; });
    const Quantity cn = interval(
        "chinchilla_params", [](const fit::InferenceAwarePlan& p) { return p.chinchilla.params; });
    const Quantity cd = interval(
        "chinchilla_tokens", [](const fit::InferenceAwarePlan& p) { return p.chinchilla.tokens; });
    const Quantity saving =
        interval("saving", [](const fit::InferenceAwarePlan& p) { return p.saving; });
    TextTable t({"model of loss " + fixed(options.target_loss, 3), "N", "D", "D/N",
                 "training FLOPs", "inference FLOPs", "total FLOPs"});
    auto row = [&](const std::string& name, const fit::ModelCost& c, const Quantity& qn,
                   const Quantity& qd) {
      t.add_row({name, with_interval(qn, count_text), with_interval(qd, count_text),
                 ratio_text(c.tokens / c.params), sci_text(c.train_flops),
                 sci_text(c.inference_flops), sci_text(c.total_flops())});
    };
    row("inference-aware", plan->inference_aware, n, d);
    row("Chinchilla-optimal", plan->chinchilla, cn, cd);
    std::ostringstream text;
    text << "\nInference-aware optimum (Sardana et al. 2024) for "
         << format_count(options.inference_tokens)
         << " inference tokens, training C = " << fixed(k, 2) << "·N·D, inference "
         << fixed(k / 3, 2) << "·N per token\n";
    t.print(text);
    text << "Saving against the Chinchilla-optimal model of the same loss: "
         << with_interval(Quantity{saving.key, "", 100 * saving.value, 100 * saving.lo,
                                   100 * saving.hi, saving.replicates},
                          [](double x) { return fixed(x, 1) + "%"; })
         << " of total FLOPs\n";
    inference_text = text.str();
    auto cost = [](const fit::ModelCost& c) {
      return nlohmann::json{{"params", c.params},
                            {"tokens", c.tokens},
                            {"train_flops", c.train_flops},
                            {"inference_flops", c.inference_flops},
                            {"total_flops", c.total_flops()}};
    };
    json["inference_aware"] = {{"target_loss", options.target_loss},
                               {"inference_tokens", options.inference_tokens},
                               {"inference_aware", cost(plan->inference_aware)},
                               {"chinchilla", cost(plan->chinchilla)},
                               {"saving", fit::to_json(saving)},
                               {"params_interval", {n.lo, n.hi}},
                               {"tokens_interval", {d.lo, d.hi}}};
  }

  if (options.fit.json) {
    std::cout << json.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fitted.data.source << ": " << analysis.replicates_done << " bootstrap replicates, "
            << static_cast<int>(std::lround(confidence * 100)) << "% intervals\n\n";
  if (!asked.empty() || model) table.print(std::cout);
  std::cout << inference_text;
  for (const std::string& w : analysis.warnings) std::cout << "note: " << w << "\n";
  return kExitOk;
}

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
    const fit::Accelerator* a = fit::find_accelerator(options.gpu);
    if (!a)
      throw UserError("capacity: unknown --gpu '" + options.gpu +
                      "'; presets: a100, h100, h200 (or --peak-tflops)");
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
    flops = fit::trainable_flops(options.days * 86400, peak, options.gpus, options.mfu);
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
    const double seconds = fit::training_seconds(flops, peak, options.gpus, options.mfu);
    out << sci_text(flops) << " FLOPs take " << fixed(seconds / 86400, 1) << " days ("
        << format_count(seconds / 3600 * options.gpus) << " GPU-hours)\n";
    json["flops"] = flops;
    json["days"] = seconds / 86400;
    json["gpu_hours"] = seconds / 3600 * options.gpus;
  }

  if (!options.fit_path.empty()) {
    FitCommandOptions fit_options;
    fit_options.path = options.fit_path;
    fit_options.targets = {flops};
    fit_options.job_targets = false;
    fit_options.holdout_budgets = 0;
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

std::string default_report_base(const std::string& path) {
  std::filesystem::path p(path);
  return (p.parent_path() / p.stem()).string() + "-report";
}

namespace {

fit::ReportFiles fit_and_write_report(const ReportCommandOptions& options) {
  const FittedSweep fitted = fit_from_options(options.fit);
  fit::ReportOptions report;
  report.output_base =
      options.output.empty() ? default_report_base(options.fit.path) : options.output;
  return fit::write_report(fitted.data, fitted.analysis, report);
}

}  // namespace

int report_command(const ReportCommandOptions& options) {
  const fit::ReportFiles files = fit_and_write_report(options);
  std::cout << files.html << "\n" << files.markdown << "\n" << files.json << "\n";
  return kExitOk;
}

void report_after_sweep(const std::string& sweep_path) {
  try {
    int64_t unfinished = 0;
    {
      const SweepStore store = SweepStore::open_read_only(sweep_path);
      for (const RunInfo& run : store.runs()) {
        const RunState state = store.progress(run.index).state;
        unfinished += state == RunState::kPending || state == RunState::kRunning;
      }
    }
    if (unfinished > 0) {
      log_info("report: not written, " + std::to_string(unfinished) + " runs not finished");
      return;
    }
    ReportCommandOptions options;
    options.fit.path = sweep_path;
    const fit::ReportFiles files = fit_and_write_report(options);
    log_info("report: " + files.html + " (also " + files.markdown + ", " + files.json + ")");
  } catch (const std::exception& e) {
    log_warn(std::string("no report: ") + e.what());
  }
}

}  // namespace sweep
