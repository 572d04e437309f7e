#pragma once
// How a node's worker ranks are cut into slots (the ranks that train one run
// data-parallel): plain arithmetic on resources.ranks_per_run, shared by the
// MPI layout (worker/comm.cc) and the schedule simulator (bench/schedule.cc).

#include <cstdint>
#include <vector>

namespace sweep {

// `sizes` taken in turn, round and round, skipping sizes that no longer fit.
// Returns the slots' sizes in rank order; the ranks they leave are idle.
std::vector<int> cut_into_slots(int workers, const std::vector<int64_t>& sizes);

}  // namespace sweep
