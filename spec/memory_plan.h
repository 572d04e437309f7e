#pragma once
// The memory model (model/memory.h) applied to a job's runs: the sharding a
// run trains with on a slot of k ranks (resources.sharding, or under "auto"
// the least sharding that fits resources.memory_per_rank), and the fewest
// ranks on which it fits at all. `sweepd plan`, `sweepd check`, the schedule
// simulator and the worker read these, so what is planned is what runs.

#include <cstdint>
#include <string>

#include "model/memory.h"
#include "spec/grid.h"
#include "spec/job_spec.h"

namespace sweep {

struct MemoryChoice {
  Sharding sharding = Sharding::kNone;
  MemoryEstimate estimate;  // bytes per rank under that sharding
  bool fits = true;         // estimate.total() <= memory (always, when there is no limit)
};

// The run's memory on `ranks` ranks with `memory_per_rank` bytes each (0: no
// limit); `cuda`: bf16 autocast (the GPU path) rather than fp32.
MemoryOptions memory_options(const JobSpec& job, const RunSpec& run, int64_t ranks, bool cuda);
MemoryChoice choose_sharding(const JobSpec& job, const RunSpec& run, int64_t ranks,
                             double memory_per_rank, bool cuda);

// Fewest ranks, trying 1, 2, 4, ... up to `max_ranks` (and ranks that divide
// the batch), on which the run fits; 0 if it fits on none.
int64_t fewest_ranks_that_fit(const JobSpec& job, const RunSpec& run, int64_t max_ranks,
                              double memory_per_rank, bool cuda);

// Fewest ranks a run may train on: resources.large_runs' rule, and the
// fewest on which the memory model fits it in `memory_per_rank` (0 when no
// slot size up to the batch's sequences fits it).
int64_t ranks_needed(const JobSpec& job, const RunSpec& run, double memory_per_rank, bool cuda);

// What would make a run that does not fit on `ranks` ranks fit, for the error:
// "more ranks (fits on 16)", "train.activation_checkpointing = true", ...
std::string how_to_fit(const JobSpec& job, const RunSpec& run, int64_t ranks,
                       double memory_per_rank, bool cuda);

}  // namespace sweep
