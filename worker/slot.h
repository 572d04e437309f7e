#pragma once
// A slot's serve loop under mpirun: the leader asks rank 0 for a run, the
// slot trains it data-parallel, the leader streams its records back in
// batches and reports how it ended, and the slot asks again, until rank 0
// says there is no more work. Every rank of the slot leaves a run the same
// way (model/train.h), so a failure on one rank ends the run on all of them;
// the failing rank's reason is shared before the leader reports it.

#include <optional>
#include <string>

#include "model/data.h"
#include "spec/grid.h"
#include "spec/job_spec.h"
#include "worker/comm.h"
#include "worker/fault.h"

namespace sweep {

// What every rank of a slot needs to train any run of the sweep.
struct SlotWork {
  const JobSpec& job;
  const Grid& grid;
  const TokenData& data;
  std::string output;              // the sweep's HDF5 path (checkpoints go beside it)
  std::optional<FaultSpec> fault;  // SWEEP_FAULT
};

void serve_slot(const SlotWork& work, const SlotLayout& layout, const std::string& device,
                int threads);

}  // namespace sweep
