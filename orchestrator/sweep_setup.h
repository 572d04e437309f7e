#pragma once
// What every process of a sweep prepares before training: the validated job,
// its grid, the tokenized corpus (mapped), and what the HDF5 store records
// about the sweep and each run. Deterministic: every rank gets the same.

#include <memory>
#include <string>
#include <vector>

#include "model/data.h"
#include "spec/grid.h"
#include "spec/job_spec.h"
#include "storage/store.h"

namespace sweep {

struct SweepSetup {
  JobSpec job;
  Grid grid;
  std::string output;         // the HDF5 path (job's, or --output)
  SweepInfo info;             // root attributes of the store
  std::vector<RunInfo> runs;  // per-run attributes of the store
  std::unique_ptr<TokenData> data;
};

// Throws UserError for a bad job or corpus. `output` overrides sweep.output.
// `verbose`: log the corpus and grid warnings (one rank of many says them).
SweepSetup prepare_sweep(const std::string& job_path, const std::string& output, bool verbose);

// Canonical text of everything that decides a sweep's curves: resuming into a
// file is allowed only when it is unchanged.
std::string sweep_fingerprint(const JobSpec& job, const Grid& grid);

}  // namespace sweep
