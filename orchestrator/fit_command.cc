// `sweepd fit` and `report`, and the fit stage as the commands share it: read
// a sweep file or a table, take the sweep's own [fit] section over the fit's
// defaults (fit/options.h), let the command line override both, and fit. The
// work is in fit/; `sweepd fit` prints the report's own document as text
// (fit/report.h) or its JSON (fit/fit_json.h). predict and capacity are in
// predict_command.cc and capacity_command.cc.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common/error.h"
#include "common/format.h"
#include "common/log.h"
#include "fit/analysis.h"
#include "fit/fit_json.h"
#include "fit/options.h"
#include "fit/report.h"
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

FittedSweep fit_from_options(const FitCommandOptions& options) {
  FittedSweep fitted;
  fit::InputOptions input;
  input.drop_highest = options.drop_highest;
  input.budgets = options.budgets;
  fitted.data = load_fit_data(options.path, input);

  // The fit's defaults, then the sweep's own [fit] section, then the options.
  fit::AnalysisOptions analysis;
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
  analysis.envelope = options.envelope;

  const int64_t holdout = analysis.holdout_budgets == fit::kDefaultHoldout
                              ? fit::default_holdout_budgets(fitted.data.budgets.size())
                              : analysis.holdout_budgets;
  log_info("fitting " + std::to_string(fitted.data.points.size()) + " runs in " +
           std::to_string(fitted.data.budgets.size()) + " budgets: approach 3 from 4,500 starts, " +
           std::to_string(analysis.bootstrap) + " bootstrap replicates" +
           (holdout > 0 ? ", backtest" : ""));
  fitted.analysis = fit::analyze(fitted.data, analysis);
  return fitted;
}

int fit_command(const FitCommandOptions& options) {
  const FittedSweep fitted = fit_from_options(options);
  if (options.json)
    std::cout << fit::to_json(fitted.data, fitted.analysis).dump(2) << "\n";
  else
    std::cout << fit::fit_text(fitted.data, fitted.analysis);
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
