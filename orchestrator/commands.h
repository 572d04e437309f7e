#pragma once
// The subcommands of `sweepd`, each a function from parsed options to an exit
// code. main.cc owns the command line (CLI11); these own the work. Results go
// to stdout (a table, or one JSON document with --json); logs go to stderr.

#include <string>

#include "model/config.h"

namespace sweep {

struct PlanOptions {
  std::string job_path;
  bool json = false;
  double throughput = 0;  // FLOP/s for time estimates; 0 = measure at start
  double mfu = 0.3;       // share of the measured matmul rate a training step reaches
};
int plan_command(const PlanOptions& options);

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
  GPTConfig model;
  bool json = false;
};
int flops_command(const FlopsOptions& options);

}  // namespace sweep
