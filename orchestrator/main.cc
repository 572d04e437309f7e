// sweepd: language-model scaling-law studies, from a TOML job file to a fitted
// law. This file is the command line only; orchestrator/commands.h does the work.

#include <torch/version.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "common/runtime.h"
#include "common/signals.h"
#include "orchestrator/commands.h"
#include "version.h"

namespace {

const char* kDescription =
    "sweepd runs language-model scaling-law studies: from a TOML job file it plans an\n"
    "IsoFLOP grid of GPT training runs (model size N x tokens D at fixed compute budgets\n"
    "C) with exact parameter and FLOP counts, trains them with LibTorch in one process or\n"
    "over MPI ranks, and streams the loss curves into one HDF5 file.\n\n"
    "Start with:\n"
    "  sweepd jobs/quickstart.toml          run the study (same as `sweepd run JOB`)\n"
    "  mpirun -np 3 sweepd jobs/quickstart.toml   rank 0 coordinates, the others train\n"
    "  sweepd plan jobs/quickstart.toml     the runs a job expands to, with estimated time\n"
    "  sweepd status runs/quickstart.h5     progress of a sweep, from its file (also while it "
    "runs)\n"
    "  sweepd check jobs/quickstart.toml    validate a job file and its corpus\n"
    "  sweepd flops --n-layer 12 --d-model 768 --n-head 12 --vocab 50257 --seq-len 1024\n\n"
    "Job files are documented key by key in docs/job-format.md, the HDF5 file in\n"
    "docs/hdf5-layout.md, clusters in docs/cluster.md. Results go to stdout (add --json\n"
    "for one JSON document); logs go to stderr. Exit codes: 0 ok, 1 failure, 2 bad input\n"
    "(the message names file:line:col and the key).";

std::string version_text() {
  std::string text = std::string("sweepd ") + sweep::kVersion + " (LibTorch " + TORCH_VERSION;
#ifdef SWEEP_WITH_CUDA
  text += ", CUDA + NCCL";
#else
  text += ", CPU only";
#endif
  return text + ")";
}

// `sweepd JOB.toml ...` is `sweepd run JOB.toml ...`.
std::vector<std::string> with_default_subcommand(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  static const char* kSubcommands[] = {"run", "plan", "check", "status", "flops"};
  if (args.size() > 1 && args[1][0] != '-' &&
      std::none_of(std::begin(kSubcommands), std::end(kSubcommands),
                   [&](const char* s) { return args[1] == s; })) {
    args.insert(args.begin() + 1, "run");
  }
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  sweep::prepare_process_runtime(argc, argv);
  CLI::App app{kDescription, "sweepd"};
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1);
  app.fallthrough();

  sweep::RunOptions run;
  CLI::App* run_cmd = app.add_subcommand(
      "run",
      "Train every run of a job's grid, writing the HDF5 file as it goes (`sweepd JOB.toml`\n"
      "is short for `sweepd run JOB.toml`). Rerun the same command to resume after an\n"
      "interruption: finished runs are kept, partial runs continue from their checkpoints.\n"
      "Ctrl-C, SIGTERM or SIGUSR2 checkpoint the running run and exit cleanly.");
  run_cmd->add_option("job", run.job_path, "job file (TOML)")->required();
  run_cmd->add_option("--output,-o", run.output,
                      "HDF5 file to write (default: the job's sweep.output)");
  run_cmd->add_flag("--json", run.json, "print the final results as one JSON document");
  run_cmd->add_option(
      "--deadline", run.deadline,
      "checkpoint and stop cleanly at this time: a walltime from now (23:50:00, 90m,\n"
      "2h) or a local time (2026-11-28T06:00); for schedulers without a warning signal");

  sweep::PlanOptions plan;
  CLI::App* plan_cmd = app.add_subcommand(
      "plan",
      "Print the runs a job file expands to: id, budget, N (total, non-embedding), D,\n"
      "tokens per parameter, shape, LR, FLOPs and estimated time on this machine.");
  plan_cmd->add_option("job", plan.job_path, "job file (TOML)")->required();
  plan_cmd->add_flag("--json", plan.json, "print one JSON document instead of a table");
  plan_cmd->add_option("--throughput", plan.throughput,
                       "training FLOP/s to estimate times with (default: measure the fp32 "
                       "matmul rate now and take --mfu of it)");
  plan_cmd
      ->add_option("--mfu", plan.mfu,
                   "share of the measured matmul rate a training step "
                   "reaches (default 0.3)")
      ->check(CLI::Range(0.001, 1.0));

  sweep::StatusOptions status;
  CLI::App* status_cmd = app.add_subcommand(
      "status",
      "Where a sweep stands, from its HDF5 file (also while it runs): runs done, running,\n"
      "pending, failed; FLOPs done; ETA; best loss per budget so far.");
  status_cmd->add_option("file", status.path, "the sweep's HDF5 file")->required();
  status_cmd->add_flag("--json", status.json, "print one JSON document");

  sweep::CheckOptions check;
  CLI::App* check_cmd = app.add_subcommand(
      "check",
      "Validate a job file as a sweep would: every key, the grid, and that the corpus\n"
      "exists. Exit 0 when it can run, 2 with the first error otherwise.");
  check_cmd->add_option("job", check.job_path, "job file (TOML)")->required();
  check_cmd->add_flag("--json", check.json, "print one JSON document");

  sweep::FlopsOptions flops;
  int64_t d_ff = 0;
  bool untied = false;
  CLI::App* flops_cmd = app.add_subcommand(
      "flops",
      "Parameters (total, non-embedding) and training FLOPs per token of one GPT shape\n"
      "under every convention: 6N, kaplan, chinchilla (Hoffmann et al. 2022, App. F).");
  flops_cmd->add_option("--n-layer", flops.model.n_layer, "transformer blocks")->required();
  flops_cmd->add_option("--d-model", flops.model.d_model, "residual width")->required();
  flops_cmd->add_option("--n-head", flops.model.n_head, "attention heads")->required();
  flops_cmd->add_option("--d-ff", d_ff, "MLP hidden width (default 4 x d_model)");
  flops_cmd->add_option("--vocab", flops.model.vocab_size, "vocabulary size")->required();
  flops_cmd->add_option("--seq-len", flops.model.seq_len, "sequence length (context)")->required();
  flops_cmd->add_flag("--untied", untied, "separate lm_head instead of sharing wte");
  flops_cmd->add_flag("--json", flops.json, "print one JSON document");

  std::vector<std::string> args = with_default_subcommand(argc, argv);
  std::reverse(args.begin(), args.end());
  args.pop_back();  // CLI11 takes the arguments reversed, without the program name
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : sweep::kExitUserError;
  }

  try {
    if (*run_cmd) {
      if (!run.deadline.empty()) sweep::set_deadline(sweep::parse_deadline(run.deadline));
      return sweep::run_command(run);
    }
    if (*plan_cmd) return sweep::plan_command(plan);
    if (*check_cmd) return sweep::check_command(check);
    if (*status_cmd) return sweep::status_command(status);
    if (*flops_cmd) {
      flops.model.d_ff = d_ff > 0 ? d_ff : 4 * flops.model.d_model;
      flops.model.tie_embeddings = !untied;
      return sweep::flops_command(flops);
    }
  } catch (const sweep::UserError& e) {
    std::cerr << e.what() << '\n';
    return sweep::kExitUserError;
  } catch (const std::exception& e) {
    sweep::log_error(e.what());
    return sweep::kExitFailure;
  }
  return sweep::kExitOk;
}
