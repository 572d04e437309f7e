#pragma once
// Grid expansion: a JobSpec becomes the list of runs to train.
//
// Every variant ([[variant]]: a family, shape rule or recipe) gets the same
// budgets and size rule; its runs' ids start with its name.
//
// Every rank expands the same job file to the same list, so the scheduler sends
// a worker only a run index. For each compute budget C and each size rule the
// grid takes a target N, realizes a shape (model/shapes.h), and gives the run
// D = C / FLOPs-per-token(realized shape, job's convention) tokens, rounded to
// whole optimizer steps. The realized N, D and FLOPs are what the run records.
// Runs shorter than grid.min_steps are dropped (reported), and a budget with no
// run left is an error at grid.budgets. A job with [tune] gets, first, every
// tuned variant's tune runs: each candidate recipe at each tuning size.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/counting.h"
#include "spec/job_spec.h"

namespace sweep {

// A grid run is a point of the IsoFLOP grid; a tune run is one candidate
// recipe of [tune] at one tuning size, trained before its variant's grid.
enum class RunRole { kGrid, kTune };

struct RunSpec {
  int index = 0;               // position in the grid (by budget, then N)
  std::string run_id;          // stable name, e.g. "C1e12-N25.1K" ("llama-C1e12-N25.1K" in a
                               // job with variants); the HDF5 group name
  int variant = 0;             // index into JobSpec::variants
  double budget = 0;           // the compute budget C it belongs to (FLOPs); 0 for explicit runs
  double target_params = 0;    // N asked for
  ModelConfig model;             // realized shape
  ParamCount params;           // realized N (total, non-embedding, active)
  double flops_per_token = 0;  // training FLOPs per token under the job's convention
  int64_t steps = 0;           // optimizer steps
  int64_t tokens = 0;          // D = steps * batch_tokens
  double flops = 0;            // flops_per_token * tokens
  double lr = 0;               // peak learning rate from the job's rule
  int64_t warmup_steps = 0;
  RunRole role = RunRole::kGrid;
  // The [tune] candidate it trains with (Variant::candidates): a tune run's
  // own; -1 for a grid run (a tuned variant's learns it when it starts, and
  // its lr is NaN until then).
  int recipe = -1;
  uint64_t seed = 0;  // per-run seed derived from the sweep seed and run id
  int replica = 0;    // 0, or r of sweep.seeds: the same N and D again (id suffix "-s<r>")

  // The N of this run's law: total parameters, active ones for a mixture of experts.
  int64_t law_params() const { return params.active; }
  double tokens_per_param() const { return double(tokens) / double(law_params()); }
  bool is_tune() const { return role == RunRole::kTune; }
  // A tuned variant's grid run: its recipe (and lr) is chosen as it starts.
  bool recipe_at_start() const { return role == RunRole::kGrid && std::isnan(lr); }
};

struct DroppedRun {
  double budget = 0;
  double target_params = 0;
  std::string reason;
  std::string variant;  // its variant's name ("" without [[variant]])

  // "dropped N~10K at budget 1e11 (variant llama): same shape as ..."
  std::string describe() const;
};

struct Grid {
  std::vector<RunSpec> runs;        // by budget, then N
  std::vector<DroppedRun> dropped;  // sizes that did not fit their budget
  double total_flops() const;
};

Grid expand_grid(const JobSpec& job);

// Peak learning rate for a shape under a variant's rule.
double peak_lr(const TrainSection& train, const ModelConfig& model);

// The recipe `run` trains with: its variant's [train], or candidate `recipe`
// of its variant's [tune] (a tune run's own when `recipe` < 0).
const TrainSection& run_recipe(const JobSpec& job, const RunSpec& run, int recipe = -1);

// "grid" or "tune", as the sweep file's role column says.
const char* to_string(RunRole role);

}  // namespace sweep
