#pragma once
// The fit stage as the commands use it: read a sweep file or a table, take
// the sweep's [fit] section as defaults, fit (fit/analysis.h).

#include <string>

#include "fit/analysis.h"
#include "fit/fit_data.h"
#include "orchestrator/commands.h"

namespace sweep {

struct FittedSweep {
  fit::FitData data;
  fit::Analysis analysis;
};

// Throws UserError for bad input or data that supports no law.
FittedSweep fit_from_options(const FitCommandOptions& options);

// "<dir>/<stem>-report": where the report of `path` goes by default.
std::string default_report_base(const std::string& path);

// Fits a finished sweep and writes its report beside the file; logs instead
// of failing, since the sweep itself succeeded.
void report_after_sweep(const std::string& sweep_path);

}  // namespace sweep
