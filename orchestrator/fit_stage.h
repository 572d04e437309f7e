#pragma once
// The fit stage as the commands use it (fit_command.cc, predict_command.cc,
// capacity_command.cc): read a sweep file or a table, take the sweep's [fit]
// section over the fit's defaults (fit/options.h), fit (fit/analysis.h); and
// the few text formats the commands' own tables share.

#include <string>
#include <vector>

#include "fit/analysis.h"
#include "fit/fit_data.h"
#include "orchestrator/commands.h"

namespace sweep {

struct FittedSweep {
  fit::FitData data;
  fit::Analysis analysis;
};

// Throws UserError for bad input, data that supports no law, or data of
// several variants (fit/comparison.h: `sweepd fit` and `report` fit and
// compare them; predict and capacity, which use this, project one law).
FittedSweep fit_from_options(const FitCommandOptions& options);

// Every file the options name: `path`, then `more_paths`.
std::vector<std::string> input_paths(const FitCommandOptions& options);

// "<dir>/<stem>-report": where the report of `paths` goes by default (a
// merge's: "<dir of the first>/<stem>+<stem>...-report").
std::string default_report_base(const std::vector<std::string>& paths);

// Fits a finished sweep and writes its report beside the file; logs instead
// of failing, since the sweep itself succeeded.
void report_after_sweep(const std::string& sweep_path);

// Terminal text for numbers ("-" where a number does not exist).
std::string fixed(double x, int decimals);
std::string loss_text(double x);   // nats, 3 decimals
std::string count_text(double x);  // 1.2M, 350K
std::string sci_text(double x);    // 3.15e23
std::string ratio_text(double x);  // D/N
using QuantityFormat = std::string (*)(double);
std::string with_interval(const fit::Quantity& q, QuantityFormat format);  // "v [lo, hi]"
std::string target_name(const fit::Target& t);
std::string approach_title(int approach);  // "2 IsoFLOP parabolas"

}  // namespace sweep
