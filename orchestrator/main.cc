// sweepd: language-model scaling-law studies, from a TOML job file to a fitted
// law. This file is the command line only; orchestrator/commands.h does the work.

#include <torch/version.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <map>
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
    "  sweepd flops --n-layer 12 --d-model 768 --n-head 12 --vocab 50257 --seq-len 1024\n"
    "  sweepd fit runs/quickstart.h5        scaling laws with intervals (also from a CSV table)\n"
    "  sweepd predict runs/quickstart.h5 --compute 1e15   compute-optimal N, D and loss\n"
    "  sweepd predict runs/quickstart.h5 --compute 2e12 --emit-job jobs/verify.toml\n"
    "                                       a job that tests that prediction (docs/fit.md)\n"
    "  sweepd capacity --flops 3.15e23 --gpu a100 --gpus 1000 --mfu 0.4   days of training\n"
    "  sweepd report runs/quickstart.h5     HTML + Markdown + JSON report with plots\n\n"
    "Job files are documented key by key in docs/job-format.md, the HDF5 file in\n"
    "docs/hdf5-layout.md, clusters in docs/cluster.md, fits in docs/fit.md. Results go to stdout "
    "(add --json\n"
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
  static const char* kSubcommands[] = {"run", "plan",    "check",    "status", "flops",
                                       "fit", "predict", "capacity", "report"};
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
      "A failed run is retried from its checkpoint up to sweep.max_attempts times; one\n"
      "still failing is left failed (exit 1) and the next invocation retries it. Every\n"
      "attempt is kept in the file (/attempts). Ctrl-C, SIGTERM or SIGUSR2 checkpoint the\n"
      "running run and exit cleanly. SWEEP_FAULT=\"run=ID,step=K[,rank=R][,kind=throw|nan|exit]\n"
      "[,attempt=A]\" injects a failure to try these paths (docs/training.md).");
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
      "tokens per parameter, shape, LR, FLOPs and estimated time on this machine; with\n"
      "--gpu/--gpus, each run's time and group on that cluster and the sweep's makespan.");
  plan_cmd->add_option("job", plan.job_path, "job file (TOML)")->required();
  plan_cmd->add_flag("--json", plan.json, "print one JSON document instead of a table");
  plan_cmd->add_option("--throughput", plan.throughput,
                       "training FLOP/s to estimate times with (default: measure the fp32 "
                       "matmul rate now and take --mfu of it)");
  plan_cmd
      ->add_option("--mfu", plan.mfu,
                   "share of the peak a training step reaches: of --gpu's dense bf16 peak\n"
                   "(default 0.4), else of the fp32 matmul rate measured here (default 0.3)")
      ->check(CLI::Range(0.001, 1.0));
  plan_cmd
      ->add_option("--gpu", plan.gpu,
                   "plan on this hardware instead of timing here: a100, h100 or h200 (dense\n"
                   "bf16 peak 312/989/989 TFLOP/s, 80/80/141 GB, 8 per node); each run's time\n"
                   "on the group the scheduler gives it and the sweep's makespan (wall time,\n"
                   "GPU-hours) from the schedule simulator; default with --gpus: resources.gpu")
      ->check(CLI::IsMember({"a100", "h100", "h200"}, CLI::ignore_case));
  plan_cmd
      ->add_option("--gpus", plan.gpus,
                   "GPUs the sweep gets (one training rank each; rank 0 needs none), in\n"
                   "nodes of 8; the job's resources (ranks_per_run, large_runs,\n"
                   "memory_per_rank) apply")
      ->check(CLI::Range(1, 1 << 20));

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
  bool untied = false, tied = false;
  std::string flops_family = "gpt2";
  CLI::App* flops_cmd = app.add_subcommand(
      "flops",
      "Parameters (total, non-embedding, active) and training FLOPs per token of one shape\n"
      "of a model family under every convention: 6N, kaplan, chinchilla (Hoffmann et al.\n"
      "2022, App. F). Families: gpt2 (default), llama, moe, lstm (docs/flops.md).");
  flops_cmd->add_option("--family", flops_family, "gpt2, llama, moe or lstm");
  flops_cmd->add_option("--n-layer", flops.model.n_layer, "transformer blocks (LSTM layers)")
      ->required();
  flops_cmd->add_option("--d-model", flops.model.d_model, "residual width (LSTM units)")
      ->required();
  flops_cmd->add_option("--n-head", flops.model.n_head, "attention heads (not for lstm)");
  flops_cmd->add_option("--n-kv-head", flops.model.n_kv_head,
                        "key/value heads (llama, moe; default n_head)");
  flops_cmd->add_option("--d-ff", d_ff,
                        "MLP hidden width, per expert for moe (default 4 x d_model for gpt2; "
                        "8/3 x d_model rounded up to a multiple of 256 for llama, moe)");
  flops_cmd->add_option("--n-experts", flops.model.n_experts, "routed experts (moe)");
  flops_cmd->add_option("--top-k", flops.model.top_k, "routed experts per token (moe)");
  flops_cmd->add_option("--shared-experts", flops.model.n_shared_experts,
                        "experts every token uses (moe; default 0)");
  flops_cmd->add_option("--vocab", flops.model.vocab_size, "vocabulary size")->required();
  flops_cmd->add_option("--seq-len", flops.model.seq_len, "sequence length (context)")->required();
  flops_cmd->add_flag("--untied", untied,
                      "separate lm_head instead of sharing wte (the default for llama, moe)");
  flops_cmd->add_flag("--tie", tied, "lm_head shares wte (the default for gpt2, lstm)");
  flops_cmd->add_flag("--json", flops.json, "print one JSON document");
  flops.model.n_head = 0;
  flops.model.n_experts = 0;
  flops.model.top_k = 0;

  // The fit stage: fit, predict, capacity, report (docs/fit.md).
  auto add_fit_options = [](CLI::App* cmd, sweep::FitCommandOptions& o) {
    cmd->add_option_function<std::vector<std::string>>(
           "files",
           [&o](const std::vector<std::string>& files) {
             o.path = files.front();
             o.more_paths.assign(files.begin() + 1, files.end());
           },
           "sweep HDF5 files and/or CSV tables (params,tokens,loss or params,flops,loss;\n"
           "optional budget, run); several are merged into one fit (one FLOP convention)")
        ->required();
    cmd->add_option("--approaches", o.approaches,
                    "Chinchilla approaches to fit: 1 envelope, 2 IsoFLOP parabolas, 3 parametric\n"
                    "(default: the sweep's [fit] section, else 1 2 3)")
        ->check(CLI::Range(1, 3))
        ->delimiter(',');
    cmd->add_option("--bootstrap", o.bootstrap,
                    "bootstrap replicates for the intervals (default: the sweep's, else " +
                        std::to_string(sweep::fit::AnalysisOptions{}.bootstrap) + "; 0 = none)")
        ->check(CLI::Range(int64_t{0}, int64_t{100000}));
    cmd->add_option("--confidence", o.confidence, "interval level")
        ->check(CLI::Range(0.5, 0.999))
        ->capture_default_str();
    cmd->add_option("--envelope", o.envelope,
                    "approach 1's points: all (default) or ends (annealed run ends only)")
        ->transform(CLI::CheckedTransformer(std::map<std::string, sweep::fit::EnvelopeMode>{
            {"all", sweep::fit::EnvelopeMode::kAll}, {"ends", sweep::fit::EnvelopeMode::kEnds}}));
    cmd->add_option("--holdout", o.holdout_budgets,
                    "largest budgets held out for the backtest (default: the sweep's, else 1 with\n"
                    ">= 3 budgets)")
        ->check(CLI::Range(int64_t{0}, int64_t{1000}));
    cmd->add_option("--param-convention", o.param_convention,
                    "what N counts: total or non-embedding (default: the sweep's [fit] params,\n"
                    "else total)")
        ->check(CLI::IsMember({"total", "non-embedding"}));
    cmd->add_option("--variant", o.variant,
                    "only this [[variant]]'s runs (predict and capacity need one of several)");
    cmd->add_option("--drop-highest", o.drop_highest, "leave out the k runs with the highest loss")
        ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
    cmd->add_option("--budgets", o.budgets, "fit only these budgets (FLOPs, matched within 5%)")
        ->delimiter(',');
    cmd->add_option("--seed", o.seed, "bootstrap seed")->capture_default_str();
    cmd->add_option("--threads", o.threads, "threads (default: all cores)")
        ->check(CLI::Range(0, 4096));
  };

  sweep::FitCommandOptions fit;
  CLI::App* fit_cmd = app.add_subcommand(
      "fit",
      "Fit scaling laws to a sweep's finished runs or to a CSV table: Chinchilla approaches\n"
      "1-3 (N_opt ∝ C^a, D_opt ∝ C^b; L(N, D) = E + A/N^α + B/D^β), Kaplan-style L(N), L(D),\n"
      "L(C) on the compute frontier, bootstrap intervals for every number, a backtest on\n"
      "the held-out largest budgets, and projections to the sweep's targets. Several files\n"
      "are fitted as one. A sweep made by `predict --emit-job` shows its stored prediction\n"
      "against the outcome (\"Prediction vs outcome\"), also without a law of its own.\n"
      "Several variants (a sweep's [[variant]] tables, a table's variant column) are fitted\n"
      "one by one, then compared: loss frontiers, compute multiplier, crossover.");
  add_fit_options(fit_cmd, fit);
  fit_cmd->add_option("--target", fit.targets, "also project to this compute (FLOPs); repeatable")
      ->delimiter(',');
  fit_cmd->add_flag("--json", fit.json, "print one JSON document (layout in docs/fit.md)");

  sweep::PredictOptions predict;
  CLI::App* predict_cmd = app.add_subcommand(
      "predict",
      "Project a fitted law: the compute-optimal N and D for a compute budget (each approach),\n"
      "the loss of a model (N, D), or the inference-aware optimum: the N and D that reach a\n"
      "target loss at the least training + inference compute (Sardana et al. 2024). Every\n"
      "number comes with its bootstrap interval. Data of several variants is refused: give\n"
      "one variant's file or table.");
  add_fit_options(predict_cmd, predict.fit);
  predict_cmd->add_option("--compute", predict.compute, "compute budget(s) in FLOPs")
      ->delimiter(',');
  predict_cmd->add_option("--params", predict.params, "model size N (with --tokens)");
  predict_cmd->add_option("--tokens", predict.tokens, "training tokens D (with --params)");
  predict_cmd->add_option("--target-loss", predict.target_loss,
                          "loss (nats per token) the model must reach");
  predict_cmd->add_option("--inference-tokens", predict.inference_tokens,
                          "tokens the model will serve over its life (with --target-loss)");
  predict_cmd->add_option(
      "--emit-job", predict.emit_job,
      "with one --compute C: write this job file, the first sweep file's job with a grid of\n"
      "sizes at C bracketing the predicted N_opt (approach 3's, else 2's) and the prediction\n"
      "in [prediction]; its sweep stores it, and its report compares it with the outcome");
  predict_cmd->add_flag("--json", predict.fit.json, "print one JSON document");

  sweep::CapacityOptions capacity;
  CLI::App* capacity_cmd = app.add_subcommand(
      "capacity",
      "Wall time of a training run on GPUs (FLOPs / (GPUs x peak x MFU)), or what fits in a\n"
      "given number of days; with --fit, the compute-optimal model for that compute.\n"
      "Example: GPT-3, 175B parameters on 300B tokens, on 1000 A100s at 40% MFU:\n"
      "  sweepd capacity --params 175e9 --tokens 300e9 --gpu a100 --gpus 1000 --mfu 0.4");
  capacity_cmd->add_option("--flops", capacity.flops, "training compute in FLOPs");
  capacity_cmd->add_option("--params", capacity.params, "model size N (C = 6·N·D)");
  capacity_cmd->add_option("--tokens", capacity.tokens, "training tokens D");
  capacity_cmd->add_option("--days", capacity.days,
                           "the inverse: the FLOPs that fit in this many days");
  capacity_cmd->add_option("--gpu", capacity.gpu,
                           "a100 (312 TFLOP/s), h100 (989) or h200 (989): dense bf16 peak "
                           "(default h100)");
  capacity_cmd->add_option("--peak-tflops", capacity.peak_tflops,
                           "another accelerator's peak TFLOP/s");
  capacity_cmd->add_option("--gpus", capacity.gpus, "number of GPUs (default 1)");
  capacity_cmd->add_option("--mfu", capacity.mfu, "model FLOPs utilisation (default 0.4)");
  capacity_cmd->add_option("--fit", capacity.fit_path,
                           "a sweep's HDF5 file or CSV table: add the compute-optimal model");
  capacity_cmd->add_flag("--json", capacity.json, "print one JSON document");

  sweep::ReportCommandOptions report;
  CLI::App* report_cmd = app.add_subcommand(
      "report",
      "Fit and write the report: <file>-report.html (self-contained, plots inline), .md (with\n"
      "SVG plots beside it) and .json; for several files <first's dir>/<stem>+<stem>-report.\n"
      "A sweep writes it by itself when its last run is done.");
  add_fit_options(report_cmd, report.fit);
  report_cmd->add_option(
      "--output,-o", report.output,
      "base path of the report files (default: <file without extension>-report)");

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
    if (*fit_cmd) return sweep::fit_command(fit);
    if (*predict_cmd) return sweep::predict_command(predict);
    if (*capacity_cmd) return sweep::capacity_command(capacity);
    if (*report_cmd) return sweep::report_command(report);
    if (*flops_cmd) {
      const std::optional<sweep::Family> family = sweep::parse_family(flops_family);
      if (!family) {
        throw sweep::UserError("sweepd flops: --family = \"" + flops_family +
                               "\": expected one of " + sweep::kFamilyNames);
      }
      if (tied && untied)
        throw sweep::UserError("sweepd flops: --tie and --untied exclude each other");
      sweep::ModelConfig& m = flops.model;
      m.family = *family;
      const bool llama_like = m.family == sweep::Family::kLlama || m.family == sweep::Family::kMoe;
      if (d_ff > 0) {
        m.d_ff = d_ff;
      } else if (llama_like) {
        m.d_ff = 256 * ((8 * m.d_model + 3 * 256 - 1) / (3 * 256));  // Llama's default rule
      } else {
        m.d_ff = m.family == sweep::Family::kLstm ? 0 : 4 * m.d_model;
      }
      m.tie_embeddings = tied || (!untied && !llama_like);
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
