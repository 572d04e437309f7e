#pragma once
// One attempt at a run on one slot: the bridge between a RunSpec from the
// grid and the training loop in model/. Chooses the device and thread count,
// wires the record sinks and the stop flag, and turns every failure inside the
// run (an exception, out of memory) into a recorded outcome: a run's failure
// is never the sweep's. A FatalError (a broken library call) is the exception:
// it goes through, to take the job down.

#include <functional>
#include <string>

#include "common/records.h"
#include "model/collectives.h"
#include "model/data.h"
#include "model/train.h"
#include "spec/grid.h"
#include "spec/job_spec.h"
#include "worker/fault.h"

namespace sweep {

// Where a run's records go (the HDF5 store on rank 0, or MPI messages to it).
struct RunSink {
  std::function<void(const TrainRecord&)> on_train;
  std::function<void(const EvalRecord&)> on_eval;
};

// "cpu" or "cuda" from resources.device ("auto": cuda when LibTorch sees a GPU).
std::string choose_device(const std::string& requested, int local_rank);
// Threads per rank: resources.threads_per_rank, or the node's cores split over its ranks.
int choose_threads(int64_t requested, int local_ranks);

// The run's training settings for one of `world` ranks of a slot, with the
// sharding it trains with (resources.sharding, or the least that fits the
// rank's memory: spec/memory_plan.h). `recipe`: the [tune] candidate a tuned
// variant's grid run trains with (Assignment::recipe); -1 for every other run.
TrainConfig make_train_config(const JobSpec& job, const RunSpec& run, const std::string& device,
                              int threads, int world = 1, int recipe = -1);

// Bytes one rank may hold: resources.memory_per_rank, else the GPU's memory
// on CUDA; 0 (no limit) on CPU.
double memory_per_rank(const JobSpec& job, const std::string& device);

// Where a run keeps its checkpoint: "<output without .h5>.ckpt/<run_id>.pt".
std::string checkpoint_path(const std::string& output, const RunSpec& run);

// Trains one attempt to the end, a divergence, a failure or a stop request;
// never throws for what happens inside the run. `collectives` are the
// slot's (default: one rank); `config.rank` and `config.world` place this
// rank in it. On a failure every rank returns kFailed; the failing rank's reason
// names it, the others say kPeerFailed.
RunResult run_one(const TrainConfig& config, const TokenData& data, const RunSink& sink,
                  const std::string& checkpoint, double checkpoint_interval,
                  const std::function<bool()>& stop_requested,
                  const Collectives& collectives = {});

}  // namespace sweep
