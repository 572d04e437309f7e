#pragma once
// One run on one slot: the bridge between a RunSpec from the grid and the
// training loop in model/. Chooses the device and thread count, wires the
// record sinks and the stop flag, and turns every failure inside the run
// (an exception, out of memory) into a recorded outcome: a run's failure is
// never the sweep's.

#include <functional>
#include <string>

#include "common/records.h"
#include "model/data.h"
#include "model/train.h"
#include "orchestrator/grid.h"
#include "orchestrator/job_spec.h"

namespace sweep {

// Where a run's records go (the HDF5 store on rank 0, or MPI messages to it).
struct RunSink {
  std::function<void(const TrainRecord&)> on_train;
  std::function<void(const EvalRecord&)> on_eval;
};

enum class Outcome { kDone, kDiverged, kStopped, kFailed };

struct WorkerResult {
  Outcome outcome = Outcome::kDone;
  std::string reason;
  TrainResult train;  // what the loop reported (absent fields when it threw)
};

// "cpu" or "cuda" from resources.device ("auto": cuda when LibTorch sees a GPU).
std::string choose_device(const std::string& requested, int local_rank);
// Threads per rank: resources.threads_per_rank, or the node's cores split over its ranks.
int choose_threads(int64_t requested, int local_ranks);

TrainConfig make_train_config(const JobSpec& job, const RunSpec& run, const std::string& device,
                              int threads);

// Where a run keeps its checkpoint: "<output without .h5>.ckpt/<run_id>.pt".
std::string checkpoint_path(const std::string& output, const RunSpec& run);

// Trains one run to the end, a divergence, a failure or a stop request;
// never throws for what happens inside the run.
// `all_reduce` sums gradients over the slot (empty for one rank); `config.rank`
// and `config.world` place this rank in it.
WorkerResult run_one(const TrainConfig& config, const TokenData& data, const RunSink& sink,
                     const std::string& checkpoint, double checkpoint_interval,
                     const std::function<bool()>& stop_requested,
                     const std::function<void(torch::Tensor&)>& all_reduce = {});

}  // namespace sweep
