#pragma once
// A sweep's HDF5 file as the fit's input: the adapter between storage/ (the
// file) and fit/ (which reads CSV tables itself and knows no HDF5).
//
// Runs whose status is done are fitted; diverged, failed and unfinished runs
// are listed in FitData::excluded with their reason. For each run: N = total
// parameters (the N the grid targets), D = training tokens, C = training FLOPs
// in the file's flop_convention, loss = the final validation loss, and its
// training curve (approach 1). Explicit [[grid.runs]] have no nominal budget
// (0); fit::finish_fit_data groups them by their FLOPs. A prediction the sweep
// was planned to test (/prediction) becomes FitData::predictions.

#include <string>
#include <vector>

#include "fit/fit_data.h"
#include "storage/store.h"

namespace sweep {

// Throws UserError when the file cannot be read as a sweep.
fit::FitData read_sweep_fit_data(const std::string& path, const fit::InputOptions& options);

// A CSV table (a name ending in .csv or .tsv: fit::read_csv_table) or a
// sweep's HDF5 file (read_sweep_fit_data). Throws UserError for bad input.
fit::FitData load_fit_data(const std::string& path, const fit::InputOptions& options);

// One file as above, or several merged into one fit (fit/merge.h): each read
// on its own, `options` (dropped runs, chosen budgets) applied to the union.
fit::FitData load_fit_data(const std::vector<std::string>& paths,
                           const fit::InputOptions& options);

// A job's [prediction] as the file stores it, and back.
PredictionRecord prediction_record(const fit::Prediction& prediction);
fit::Prediction prediction_from_record(const PredictionRecord& record);

}  // namespace sweep
