#pragma once
// A worker rank's serve loop under mpirun: rank 0 assigns a run to a group
// (every rank of the group receives the run and the group), the group trains
// it data-parallel, its leader streams the records back in batches and
// reports how it ended, and each rank waits for its next assignment, until
// rank 0 says there is no more work. A rank is in several groups (nested
// layouts) and trains in one at a time. Every rank of a group leaves a run
// the same way (model/train.h), so a failure on one rank ends the run on all
// of them; the failing rank's reason is shared before the leader reports it.

#include <optional>
#include <string>

#include "model/data.h"
#include "spec/grid.h"
#include "spec/job_spec.h"
#include "worker/comm.h"
#include "worker/fault.h"

namespace sweep {

// What every rank of a group needs to train any run of the sweep.
struct SlotWork {
  const JobSpec& job;
  const Grid& grid;
  const TokenData& data;
  std::string output;              // the sweep's HDF5 path (checkpoints go beside it)
  std::optional<FaultSpec> fault;  // SWEEP_FAULT
};

void serve_groups(const SlotWork& work, const GroupLayout& groups, const std::string& device,
                  int threads);

}  // namespace sweep
