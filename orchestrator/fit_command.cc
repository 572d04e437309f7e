// `sweepd fit` and `report`, and the fit stage as the commands share it: read
// a sweep file or a table (or several, merged: fit/merge.h), take the sweep's
// own [fit] section over the fit's defaults (fit/options.h), let the command
// line override both, and fit. The work is in fit/; `sweepd fit` prints the
// report's own document as text (fit/report.h) or its JSON (fit/fit_json.h),
// with a stored prediction against the outcome (fit/verification.h). Data of
// several variants is fitted per variant and compared (fit/comparison.h);
// predict and capacity (predict_command.cc, capacity_command.cc) project one
// law and refuse it.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/format.h"
#include "common/log.h"
#include "fit/analysis.h"
#include "fit/comparison.h"
#include "fit/fit_json.h"
#include "fit/options.h"
#include "fit/report.h"
#include "fit/verification.h"
#include "orchestrator/commands.h"
#include "orchestrator/fit_stage.h"
#include "orchestrator/sweep_fit_data.h"
#include "spec/job_spec.h"
#include "storage/store.h"

namespace sweep {

std::string fixed(double x, int decimals) {
  if (!std::isfinite(x)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, x);
  return buffer;
}
std::string loss_text(double x) { return fixed(x, 3); }
std::string count_text(double x) { return std::isfinite(x) ? format_count(x) : "-"; }
std::string sci_text(double x) { return std::isfinite(x) ? format_sci(x, 3) : "-"; }
std::string ratio_text(double x) {
  if (!std::isfinite(x)) return "-";
  if (x >= 1e5 || x < 0.01) return format_sci(x, 3);
  return fixed(x, x < 10 ? 2 : 1);
}

std::string with_interval(const fit::Quantity& q, QuantityFormat format) {
  if (!std::isfinite(q.value)) return "-";
  if (!std::isfinite(q.lo)) return format(q.value);
  return format(q.value) + " [" + format(q.lo) + ", " + format(q.hi) + "]";
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

std::vector<std::string> input_paths(const FitCommandOptions& options) {
  std::vector<std::string> paths = {options.path};
  paths.insert(paths.end(), options.more_paths.begin(), options.more_paths.end());
  return paths;
}

namespace {

// The data to fit and the options to fit it with.
struct FitInputs {
  fit::FitData data;
  fit::AnalysisOptions analysis;
};

// "gpt2, llama and lstm"
std::string names_of(const std::vector<std::string>& names) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i)
    text += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + fit::variant_label(names[i]);
  return text;
}

FitInputs read_inputs(const FitCommandOptions& options) {
  FitInputs inputs;
  fit::InputOptions input;
  input.drop_highest = options.drop_highest;
  input.budgets = options.budgets;
  const std::vector<std::string> paths = input_paths(options);

  // The fit's defaults, then the (first) sweep's own [fit] section, then the
  // options. A merge keeps the default holdout: the job's counts its own budgets.
  fit::AnalysisOptions& analysis = inputs.analysis;
  const auto sweep_path = std::find_if(paths.begin(), paths.end(),
                                       [](const std::string& p) { return !fit::is_table_path(p); });
  std::optional<JobSpec> job_of_sweep;
  if (sweep_path != paths.end()) {
    const SweepStore store = SweepStore::open_read_only(*sweep_path);
    if (!store.info().job_text.empty())
      job_of_sweep = parse_job_text(store.info().job_text, store.info().job_path);
  }
  if (job_of_sweep) input.params = job_of_sweep->fit.params;
  if (!options.param_convention.empty())
    fit::parse_param_convention(options.param_convention, &input.params);
  inputs.data = load_fit_data(paths, input);
  if (job_of_sweep) {
    const JobSpec& job = *job_of_sweep;
    analysis.approaches = job.fit.approaches;
    analysis.bootstrap = job.fit.bootstrap;
    if (paths.size() == 1) analysis.holdout_budgets = job.fit.holdout_budgets;
    if (options.job_targets)
      for (const FitTarget& t : job.fit.targets)
        analysis.targets.push_back({t.name, t.compute, t.params, t.tokens});
  }
  if (!options.approaches.empty()) analysis.approaches = options.approaches;
  if (options.bootstrap >= 0) analysis.bootstrap = options.bootstrap;
  if (options.holdout_budgets >= 0) analysis.holdout_budgets = options.holdout_budgets;
  for (double c : options.targets) analysis.targets.push_back({"", c, 0, 0});
  analysis.confidence = options.confidence;
  analysis.seed = options.seed;
  analysis.threads = options.threads;
  analysis.envelope = options.envelope;
  analysis.distance_backtest = options.distance_backtest;
  if (!options.variant.empty()) {
    // One variant of several, fitted as the comparison fits it (its own
    // bootstrap seed), so its numbers are the comparison's.
    const std::vector<std::string> names = fit::variant_names(inputs.data);
    if (std::find(names.begin(), names.end(), options.variant) == names.end())
      throw UserError("--variant " + options.variant + ": " + inputs.data.source +
                      (names.size() > 1 ? " holds the variants " + names_of(names)
                                        : std::string(" names no variants")));
    if (names.size() > 1) {
      inputs.data = fit::variant_data(inputs.data, options.variant);
      analysis.seed = fit::variant_seed(analysis.seed, options.variant);
    }
  }
  return inputs;
}

fit::Analysis analyze_logged(const FitInputs& inputs) {
  const fit::AnalysisOptions& analysis = inputs.analysis;
  const int64_t holdout = analysis.holdout_budgets == fit::kDefaultHoldout
                              ? fit::default_holdout_budgets(inputs.data.budgets.size())
                              : analysis.holdout_budgets;
  log_info("fitting " + std::to_string(inputs.data.points.size()) + " runs in " +
           std::to_string(inputs.data.budgets.size()) + " budgets: approach 3 from 4,500 starts, " +
           std::to_string(analysis.bootstrap) + " bootstrap replicates" +
           (holdout > 0 ? ", backtest" : ""));
  return fit::analyze(inputs.data, analysis);
}

// For fit and report: data with a stored prediction but no law of its own (a
// sweep made by `predict --emit-job` has one budget) is not refused; its
// IsoFLOP profile is shown against the prediction (fit/verification.h).
FittedSweep fit_or_verify(FitInputs inputs) {
  FittedSweep fitted;
  try {
    fitted.analysis = analyze_logged(inputs);
  } catch (const UserError& e) {
    if (inputs.data.predictions.empty()) throw;
    log_info("no scaling law: comparing the runs with their stored prediction only");
    fitted.analysis = fit::profiles_only_analysis(inputs.data, inputs.analysis, e.what());
  }
  fitted.data = std::move(inputs.data);
  return fitted;
}

bool has_variants(const fit::FitData& data) { return fit::variant_names(data).size() > 1; }


fit::VariantStudy analyze_variants_logged(const FitInputs& inputs) {
  const std::vector<std::string> names = fit::variant_names(inputs.data);
  log_info("fitting " + std::to_string(names.size()) + " variants (" + names_of(names) +
           ") separately, then comparing them");
  return fit::analyze_variants(inputs.data, inputs.analysis, [](const std::string& name) {
    log_info("fitting variant " + name);
  });
}

}  // namespace

FittedSweep fit_from_options(const FitCommandOptions& options) {
  FitInputs inputs = read_inputs(options);
  if (has_variants(inputs.data)) {
    const std::vector<std::string> names = fit::variant_names(inputs.data);
    throw UserError(inputs.data.source + " holds " + std::to_string(names.size()) +
                    " variants (" + names_of(names) +
                    "); predict and capacity project one variant's law: choose one with "
                    "--variant (sweepd fit and report fit every variant and compare them)");
  }
  FittedSweep fitted;
  fitted.analysis = analyze_logged(inputs);
  fitted.data = std::move(inputs.data);
  return fitted;
}

int fit_command(const FitCommandOptions& options) {
  FitInputs inputs = read_inputs(options);
  if (has_variants(inputs.data)) {
    const fit::VariantStudy study = analyze_variants_logged(inputs);
    if (options.json)
      std::cout << fit::to_json(study).dump(2) << "\n";
    else
      std::cout << fit::fit_text(study);
    return kExitOk;
  }
  const FittedSweep fitted = fit_or_verify(std::move(inputs));
  if (options.json)
    std::cout << fit::with_verification(fit::to_json(fitted.data, fitted.analysis), fitted.data,
                                        fitted.analysis)
                     .dump(2)
              << "\n";
  else
    std::cout << fit::fit_text(fitted.data, fitted.analysis);
  return kExitOk;
}

std::string default_report_base(const std::vector<std::string>& paths) {
  const std::filesystem::path first(paths.front());
  std::string stems;
  for (const std::string& path : paths) {
    if (!stems.empty()) stems += '+';
    stems += std::filesystem::path(path).stem().string();
  }
  return (first.parent_path() / stems).string() + "-report";
}

namespace {

fit::ReportFiles fit_and_write_report(const ReportCommandOptions& options) {
  FitInputs inputs = read_inputs(options.fit);
  const std::vector<std::string> paths = input_paths(options.fit);
  fit::ReportOptions report;
  report.output_base = options.output.empty() ? default_report_base(paths) : options.output;
  if (paths.size() > 1) {
    report.title = "Scaling-law fit:";
    for (size_t i = 0; i < paths.size(); ++i)
      report.title += (i ? " + " : " ") + std::filesystem::path(paths[i]).filename().string();
  }
  if (has_variants(inputs.data))
    return fit::write_report(analyze_variants_logged(inputs), report);
  const FittedSweep fitted = fit_or_verify(std::move(inputs));
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
