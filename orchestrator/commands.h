#pragma once
// The subcommands of `sweepd`, each a function from parsed options to an exit
// code. main.cc owns the command line (CLI11); these own the work. Results go
// to stdout (a table, or one JSON document with --json); logs go to stderr.

#include <cstdint>
#include <string>
#include <vector>

#include "fit/options.h"
#include "model/config.h"

namespace sweep {

struct PlanOptions {
  std::string job_path;
  bool json = false;
  double throughput = 0;  // FLOP/s for time estimates; 0 = measure at start
  // Share of the peak a training step reaches: of --gpu's dense bf16 peak
  // (0 = 0.4), or else of the matmul rate measured here (0 = 0.3).
  double mfu = 0;
  std::string gpu;  // a100, h100, h200: plan on that hardware (model/hardware.h)
  int gpus = 0;     // with --gpu: how many (0 = one node)
};
int plan_command(const PlanOptions& options);

// `sweepd plan --gpu`: each run's time and group on the hardware, and the
// sweep's makespan under the scheduler's policy (orchestrator/plan_hardware.cc).
int plan_on_hardware(const PlanOptions& options);

struct RunOptions {
  std::string job_path;
  std::string output;    // overrides sweep.output when set
  bool json = false;     // final results as one JSON document
  std::string deadline;  // stop cleanly then (see parse_deadline); "" = none
};
int run_command(const RunOptions& options);

struct StatusOptions {
  std::string path;  // the sweep's HDF5 file
  bool json = false;
};
int status_command(const StatusOptions& options);

struct CheckOptions {
  std::string job_path;
  bool json = false;
};
int check_command(const CheckOptions& options);

struct FlopsOptions {
  ModelConfig model;
  bool json = false;
};
int flops_command(const FlopsOptions& options);

// What the fit commands read and how they fit (see fit/analysis.h). A sweep's
// HDF5 file supplies the job's [fit] section as defaults; options override it.
struct FitCommandOptions {
  std::string path;                     // a sweep's HDF5 file or a CSV table
  std::vector<std::string> more_paths;  // more of them, merged into one fit (fit/merge.h)
  bool json = false;
  std::vector<int> approaches;  // empty = the job's, else 1, 2, 3
  int64_t bootstrap = -1;       // -1 = the job's, else 1000
  double confidence = fit::AnalysisOptions{}.confidence;
  int64_t holdout_budgets = -1;  // -1 = the job's, else 1 with >= 3 budgets
  int64_t drop_highest = 0;
  std::string param_convention;  // "" = the job's, else "total" or "non-embedding"
  std::vector<double> budgets;  // fit only these budgets
  std::vector<double> targets;  // compute targets (FLOPs), added to the job's
  bool job_targets = true;      // project to the sweep's [fit] targets too
  bool distance_backtest = true;  // predict every larger budget from every split
  uint64_t seed = fit::AnalysisOptions{}.seed;
  fit::EnvelopeMode envelope =
      fit::AnalysisOptions{}.envelope;  // approach 1: all points or annealed run ends
  int threads = 0;                      // 0 = all cores
  std::string variant;                  // only this variant's runs ("" = every variant)
};
int fit_command(const FitCommandOptions& options);

struct PredictOptions {
  FitCommandOptions fit;
  std::vector<double> compute;    // compute-optimal N and D for these budgets
  double params = 0, tokens = 0;  // the loss of this model
  double target_loss = 0;         // with inference_tokens: the inference-aware optimum
  double inference_tokens = 0;
  std::string emit_job;  // write a job that trains runs around the optimum at `compute`
};
int predict_command(const PredictOptions& options);

struct CapacityOptions {
  double flops = 0;               // what it takes to train this many FLOPs ...
  double params = 0, tokens = 0;  // ... or this model (k·N·D, k = 6 unless --fit says)
  double days = 0;                // the inverse: what fits in this many days
  std::string gpu = "h100";       // a100, h100, h200
  double peak_tflops = 0;         // overrides the preset's dense bf16 TFLOP/s
  double gpus = 1;
  double mfu = 0.4;
  std::string fit_path;  // with a fitted law: the compute-optimal model
  bool json = false;
};
int capacity_command(const CapacityOptions& options);

struct ReportCommandOptions {
  FitCommandOptions fit;
  std::string output;  // base path; default <file without extension>-report
};
int report_command(const ReportCommandOptions& options);

}  // namespace sweep
