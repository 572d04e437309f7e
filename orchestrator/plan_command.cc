// `sweepd plan JOB.toml` and `sweepd check JOB.toml`: the grid a job expands
// to, with realized shapes, N, D, FLOPs and an estimated time on this machine.

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/format.h"
#include "common/log.h"
#include "common/table.h"
#include "model/throughput.h"
#include "orchestrator/commands.h"
#include "orchestrator/grid.h"

namespace sweep {
namespace {

struct Throughput {
  double flops_per_second = 0;
  std::string source;
};

// Estimates use the Chinchilla count of the run's FLOPs (every matmul, attention
// included), whatever convention the job reports budgets in: it is the closest
// of the three to the arithmetic a training step performs.
double estimated_seconds(const RunSpec& run, const Throughput& throughput) {
  return double(run.tokens) * training_flops_per_token(run.model, FlopConvention::kChinchilla) /
         throughput.flops_per_second;
}

Throughput plan_throughput(const PlanOptions& options, const JobSpec& job) {
  Throughput t;
  if (options.throughput > 0) {
    t.flops_per_second = options.throughput;
    t.source = "--throughput " + format_sci(options.throughput) + " FLOP/s";
    return t;
  }
  int threads = int(job.resources.threads_per_rank);
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  const MatmulRate rate = measure_cpu_matmul_rate(threads);
  t.flops_per_second = rate.flops_per_second * options.mfu;
  char text[160];
  std::snprintf(text, sizeof(text),
                "%.0f%% of the fp32 matmul rate measured now (%.1f GFLOP/s, %d threads)",
                options.mfu * 100, rate.flops_per_second / 1e9, rate.threads);
  t.source = text;
  return t;
}

std::string shape_text(const GPTConfig& m) {
  return std::to_string(m.n_layer) + "x" + std::to_string(m.d_model) + " h" +
         std::to_string(m.n_head) + " ff" + std::to_string(m.d_ff);
}

nlohmann::json run_json(const RunSpec& run) {
  return {{"index", run.index},
          {"run_id", run.run_id},
          {"budget", run.budget},
          {"target_params", run.target_params},
          {"params_total", run.params.total},
          {"params_non_embedding", run.params.non_embedding},
          {"tokens", run.tokens},
          {"tokens_per_param", run.tokens_per_param()},
          {"n_layer", run.model.n_layer},
          {"d_model", run.model.d_model},
          {"n_head", run.model.n_head},
          {"d_ff", run.model.d_ff},
          {"lr", run.lr},
          {"warmup_steps", run.warmup_steps},
          {"steps", run.steps},
          {"flops_per_token", run.flops_per_token},
          {"flops", run.flops}};
}

void warn_dropped(const Grid& grid) {
  for (const DroppedRun& d : grid.dropped) {
    log_warn("grid: dropped N~" + format_count(d.target_params) + " at budget " +
             format_sci(d.budget) + ": " + d.reason);
  }
}

}  // namespace

int plan_command(const PlanOptions& options) {
  const JobSpec job = load_job_file(options.job_path);
  const Grid grid = expand_grid(job);
  warn_dropped(grid);
  if (job.data.files.empty()) {
    log_warn("data.corpus matches no file yet; `sweepd check` and training need it");
  }
  const Throughput throughput = plan_throughput(options, job);

  double total_seconds = 0;
  for (const RunSpec& run : grid.runs) total_seconds += estimated_seconds(run, throughput);

  if (options.json) {
    nlohmann::json out;
    out["job"] = job.path;
    out["name"] = job.sweep.name;
    out["flop_convention"] = to_string(job.grid.flop_convention);
    out["batch_tokens"] = job.train.batch_tokens;
    out["throughput"] = {{"flops_per_second", throughput.flops_per_second},
                         {"source", throughput.source}};
    out["runs"] = nlohmann::json::array();
    for (const RunSpec& run : grid.runs) {
      nlohmann::json r = run_json(run);
      r["est_seconds"] = estimated_seconds(run, throughput);
      out["runs"].push_back(r);
    }
    out["dropped"] = nlohmann::json::array();
    for (const DroppedRun& d : grid.dropped) {
      out["dropped"].push_back(
          {{"budget", d.budget}, {"target_params", d.target_params}, {"reason", d.reason}});
    }
    out["totals"] = {
        {"runs", grid.runs.size()}, {"flops", grid.total_flops()}, {"est_seconds", total_seconds}};
    std::cout << out.dump(2) << '\n';
    return 0;
  }

  std::cout << "sweep " << job.sweep.name << " (" << job.path << "): " << grid.runs.size()
            << " runs, FLOPs counted as " << to_string(job.grid.flop_convention)
            << ", N = total parameters, batch " << job.train.batch_tokens << " tokens\n\n";
  TextTable table({"run", "budget", "N", "N non-emb", "D", "D/N", "shape", "lr", "steps", "FLOPs",
                   "est. time"});
  for (const RunSpec& run : grid.runs) {
    char ratio[32], lr[32];
    std::snprintf(ratio, sizeof(ratio), "%.3g", run.tokens_per_param());
    std::snprintf(lr, sizeof(lr), "%.3g", run.lr);
    table.add_row({run.run_id, run.budget > 0 ? format_sci(run.budget) : "-",
                   format_count(double(run.params.total)),
                   format_count(double(run.params.non_embedding)), format_count(double(run.tokens)),
                   ratio, shape_text(run.model), lr, std::to_string(run.steps),
                   format_sci(run.flops), format_duration(estimated_seconds(run, throughput))});
  }
  table.print(std::cout);
  std::cout << "\ntotal: " << grid.runs.size() << " runs, " << format_sci(grid.total_flops())
            << " FLOPs, est. " << format_duration(total_seconds) << " in one process\n"
            << "shape: n_layer x d_model, heads, d_ff; est. time at "
            << format_sci(throughput.flops_per_second) << " FLOP/s (" << throughput.source << ")\n";
  return 0;
}

int check_command(const CheckOptions& options) {
  const JobSpec job = load_job_file(options.job_path);
  require_corpus(job);
  const Grid grid = expand_grid(job);
  warn_dropped(grid);
  if (options.json) {
    nlohmann::json out = {{"job", job.path},
                          {"ok", true},
                          {"runs", grid.runs.size()},
                          {"dropped", grid.dropped.size()},
                          {"flops", grid.total_flops()},
                          {"corpus_files", job.data.files}};
    std::cout << out.dump(2) << '\n';
  } else {
    std::cout << job.path << ": ok: " << grid.runs.size() << " runs, "
              << format_sci(grid.total_flops()) << " FLOPs, corpus " << job.data.files.size()
              << " file(s)\n";
  }
  return 0;
}

}  // namespace sweep
