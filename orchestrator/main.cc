// sweepd: language-model scaling-law studies, from a TOML job file to a fitted
// law. This file is the command line only; orchestrator/commands.h does the work.

#include <torch/version.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "common/error.h"
#include "common/log.h"
#include "orchestrator/commands.h"
#include "version.h"

namespace {

const char* kDescription =
    "sweepd runs language-model scaling-law studies: it plans an IsoFLOP grid of\n"
    "training runs (model size N x tokens D at fixed compute budgets C) from a TOML\n"
    "job file, and reports parameters and FLOPs exactly.\n\n"
    "Start with:\n"
    "  sweepd plan jobs/quickstart.toml     the runs a job expands to, with estimated time\n"
    "  sweepd check jobs/quickstart.toml    validate a job file and its corpus\n"
    "  sweepd flops --n-layer 12 --d-model 768 --n-head 12 --vocab 50257 --seq-len 1024\n\n"
    "Job files are documented key by key in docs/job-format.md. Results go to stdout\n"
    "(add --json for one JSON document); logs go to stderr. Exit codes: 0 ok, 1 failure,\n"
    "2 bad input (the message names file:line:col and the key).";

std::string version_text() {
  std::string text = std::string("sweepd ") + sweep::kVersion + " (LibTorch " + TORCH_VERSION;
#ifdef SWEEP_WITH_CUDA
  text += ", CUDA + NCCL";
#else
  text += ", CPU only";
#endif
  return text + ")";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "sweepd"};
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1);
  app.fallthrough();

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : sweep::kExitUserError;
  }

  try {
    if (*plan_cmd) return sweep::plan_command(plan);
    if (*check_cmd) return sweep::check_command(check);
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
