#pragma once
// Several sweeps and tables as one fit: `sweepd fit a.h5 b.h5 c.csv`.
//
// Each source is read on its own (a table's budgets found as for one file),
// then the runs are pooled: every run keeps its budget, so runs of equal
// budgets from different files form one IsoFLOP profile. Run ids that occur
// in more than one file are prefixed by their file's stem ("a/C1e12-N25.1K";
// the file's path where two files share a stem). Every source must count
// FLOPs with the same convention, or the union's C would mix two meanings of
// a FLOP. The merged source names every file; stored predictions are kept.

#include <vector>

#include "fit/fit_data.h"

namespace sweep::fit {

// `sources` as read (without dropped runs or chosen budgets); `options` is
// applied to the union. Throws UserError when the conventions differ (naming
// both files) or a file is given twice.
FitData merge_fit_data(std::vector<FitData> sources, const InputOptions& options);

}  // namespace sweep::fit
