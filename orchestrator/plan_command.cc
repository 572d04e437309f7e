// `sweepd plan JOB.toml` and `sweepd check JOB.toml`: the grid a job expands
// to, with realized shapes, N, D, FLOPs and an estimated time on this machine.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/format.h"
#include "common/log.h"
#include "common/table.h"
#include "model/throughput.h"
#include "orchestrator/commands.h"
#include "spec/grid.h"
#include "spec/memory_plan.h"
#include "worker/worker.h"

namespace sweep {
namespace {

// Run time = steps x (overhead + FLOPs per step / rate): small models are
// bound by per-step overhead, large ones by FLOPs. Both terms come from timing
// real training steps of the grid's smallest and largest models at start,
// per model family (an LSTM's fused kernel and a transformer's per-step
// overheads differ by several times at laptop widths), unless --throughput
// gives a rate (then overhead is 0) or the largest model is too big to try
// here (then --mfu of the measured matmul rate).
struct StepRate {
  double overhead_seconds = 0;  // per optimizer step
  double flops_per_second = 0;  // Chinchilla-counted training FLOPs
};

struct TimeModel {
  StepRate rate;                        // every family's, unless timed per family
  std::map<Family, StepRate> families;  // timed per family
  std::string source;

  // The Chinchilla count of a run's FLOPs (every matmul, attention included)
  // is the closest of the three conventions to what a step computes.
  double seconds(const RunSpec& run, int64_t batch_tokens) const {
    const auto it = families.find(run.model.family);
    const StepRate& r = it == families.end() ? rate : it->second;
    const double step_flops =
        training_flops_per_token(run.model, FlopConvention::kChinchilla) * double(batch_tokens);
    return double(run.steps) * (r.overhead_seconds + step_flops / r.flops_per_second);
  }
};

constexpr double kLargestProbeFlopsPerStep = 2e11;  // ~1-2 s per step on a laptop CPU

TimeModel plan_time_model(const PlanOptions& options, const JobSpec& job, const Grid& grid) {
  TimeModel t;
  if (options.throughput > 0) {
    t.rate.flops_per_second = options.throughput;
    t.source = "--throughput " + format_sci(options.throughput) + " FLOP/s";
    return t;
  }
  // Time steps where the plan runs: a GPU if there is one, else the CPU (so a
  // cluster job can be planned on a login node; --throughput gives its rate).
  const std::string device =
      choose_device(job.resources.device == "cuda" ? "auto" : job.resources.device, 0);
  const int threads = choose_threads(job.resources.threads_per_rank, 1);
  const int64_t batch = job.train.batch_tokens;
  auto step_flops = [&](const RunSpec& r) {
    return training_flops_per_token(r.model, FlopConvention::kChinchilla) * double(batch);
  };
  // Each family's smallest and largest run.
  std::map<Family, std::pair<const RunSpec*, const RunSpec*>> ends;
  for (const RunSpec& r : grid.runs) {
    auto [it, fresh] = ends.emplace(r.model.family, std::make_pair(&r, &r));
    if (r.params.total < it->second.first->params.total) it->second.first = &r;
    if (r.params.total > it->second.second->params.total) it->second.second = &r;
  }
  for (const auto& [family, small_large] : ends) {
    if (step_flops(*small_large.second) > kLargestProbeFlopsPerStep) {
      const MatmulRate rate = measure_cpu_matmul_rate(threads);
      const double mfu = options.mfu > 0 ? options.mfu : 0.3;
      t.rate.flops_per_second = rate.flops_per_second * mfu;
      char text[200];
      std::snprintf(text, sizeof(text),
                    "models too large to time here: %.0f%% of the fp32 matmul rate measured now "
                    "(%.1f GFLOP/s, %d threads)",
                    mfu * 100, rate.flops_per_second / 1e9, rate.threads);
      t.source = text;
      t.families.clear();
      return t;
    }
  }
  std::string timed;
  for (const auto& [family, small_large] : ends) {
    const RunSpec* small = small_large.first;
    const RunSpec* large = small_large.second;
    const double small_seconds =
        measure_step_seconds(small->model, batch, job.train.micro_batch_tokens, threads, device);
    const double large_seconds =
        measure_step_seconds(large->model, batch, job.train.micro_batch_tokens, threads, device);
    const double df = step_flops(*large) - step_flops(*small);
    const double slope = df > 0 ? (large_seconds - small_seconds) / df : 0;
    StepRate r;
    if (slope > 0) {
      r.flops_per_second = 1.0 / slope;
      r.overhead_seconds = std::max(0.0, small_seconds - slope * step_flops(*small));
    } else {
      r.flops_per_second = step_flops(*large) / large_seconds;
    }
    t.families[family] = r;
    if (t.families.size() == 1) t.rate = r;
    char text[240];
    std::snprintf(text, sizeof(text), "%s%s %.1f ms/step, %s %.1f ms/step: %.2f ms + %.1f GFLOP/s",
                  timed.empty() ? "" : "; ", small->run_id.c_str(), small_seconds * 1e3,
                  large->run_id.c_str(), large_seconds * 1e3, r.overhead_seconds * 1e3,
                  r.flops_per_second / 1e9);
    timed += text;
  }
  t.source = "timed now (" + std::to_string(threads) + " threads, " + device + "): " + timed;
  return t;
}

// "2x64 h1 ff256" (gpt2); other families name themselves and their keys:
// "llama 2x64 h2/kv1 ff176", "moe 2x64 h2/kv1 ff176 e8/k2", "lstm 2x64".
std::string shape_text(const ModelConfig& m) {
  const std::string depth_width = std::to_string(m.n_layer) + "x" + std::to_string(m.d_model);
  if (m.family == Family::kGpt2)
    return depth_width + " h" + std::to_string(m.n_head) + " ff" + std::to_string(m.d_ff);
  std::string text = std::string(to_string(m.family)) + " " + depth_width;
  if (m.family == Family::kLstm) return text;
  text += " h" + std::to_string(m.n_head);
  if (m.kv_heads() != m.n_head) text += "/kv" + std::to_string(m.kv_heads());
  text += " ff" + std::to_string(m.d_ff);
  if (m.family == Family::kMoe) {
    text += " e" + std::to_string(m.n_experts) + "/k" + std::to_string(m.top_k);
    if (m.n_shared_experts > 0) text += "+s" + std::to_string(m.n_shared_experts);
  }
  return text;
}

nlohmann::json run_json(const JobSpec& job, const RunSpec& run) {
  nlohmann::json out = {
          {"index", run.index},
          {"run_id", run.run_id},
          {"variant", job.variants[size_t(run.variant)].name},
          {"family", to_string(run.model.family)},
          {"budget", run.budget},
          {"target_params", run.target_params},
          {"params_total", run.params.total},
          {"params_non_embedding", run.params.non_embedding},
          {"params_active", run.params.active},
          {"params_active_non_embedding", run.params.active_non_embedding},
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
  out["role"] = to_string(run.role);
  // A tune run's candidate; a tuned variant's grid run has no lr until it starts.
  const Variant& variant = job.variants[size_t(run.variant)];
  if (run.is_tune()) {
    out["recipe"] = run.recipe;
    out["candidate"] = candidate_label(variant.candidate_values[size_t(run.recipe)]);
  } else if (variant.tuned()) {
    out["lr"] = nullptr;
    out["lr_tuned"] = true;
  }
  if (run.model.attention()) out["n_kv_head"] = run.model.kv_heads();
  if (run.model.family == Family::kMoe) {
    out["n_experts"] = run.model.n_experts;
    out["top_k"] = run.model.top_k;
    out["n_shared_experts"] = run.model.n_shared_experts;
  }
  return out;
}

// Each run's slot and memory as the job lays it out: the fewest ranks it
// needs (resources.large_runs and the memory model), the smallest of the
// job's slot sizes that has them, and the sharding it trains with there.
struct RunMemory {
  int64_t ranks = 1;
  MemoryChoice choice;
};

std::vector<RunMemory> plan_memory(const JobSpec& job, const Grid& grid) {
  const bool cuda = job.resources.device == "cuda";
  const double limit = job.resources.memory_per_rank;
  // The largest slot: the job's, or under "auto" the batch's limit.
  const int64_t largest =
      job.resources.auto_slots
          ? job.train.batch_tokens / job.data.seq_len
          : *std::max_element(job.resources.slot_sizes.begin(), job.resources.slot_sizes.end());
  std::vector<RunMemory> out;
  for (const RunSpec& run : grid.runs) {
    RunMemory m;
    const int64_t needed = ranks_needed(job, run, limit, cuda);
    m.ranks = 0;
    if (job.resources.auto_slots) {
      m.ranks = needed;  // "auto": a group of at least these ranks (the scheduler may give more)
    } else {
      for (int64_t size : job.resources.slot_sizes)
        if (size >= needed && needed > 0 && (m.ranks == 0 || size < m.ranks)) m.ranks = size;
    }
    if (m.ranks == 0) {
      const MemoryChoice best = choose_sharding(job, run, largest, limit, cuda);
      job.fail(job.resources.memory_per_rank > 0 ? "resources.memory_per_rank"
                                                 : "resources.ranks_per_run",
               "run " + run.run_id + " (" + format_count(double(run.params.total)) +
                   " parameters) needs " + format_bytes(best.estimate.total()) +
                   " per rank on the largest slot (" + std::to_string(largest) + " ranks, " +
                   to_string(best.sharding) + " sharded), more than " + format_bytes(limit) +
                   "; " + how_to_fit(job, run, largest, limit, cuda));
    }
    m.choice = choose_sharding(job, run, m.ranks, limit, cuda);
    out.push_back(m);
  }
  return out;
}

nlohmann::json memory_json(const RunMemory& m) {
  const MemoryEstimate& e = m.choice.estimate;
  return {{"ranks", m.ranks},
          {"sharding", to_string(m.choice.sharding)},
          {"bytes_per_rank",
           {{"parameters", e.parameters},
            {"gradients", e.gradients},
            {"optimizer", e.optimizer},
            {"casts", e.casts},
            {"activations", e.activations},
            {"total", e.total()}}}};
}

void warn_dropped(const Grid& grid) {
  for (const DroppedRun& d : grid.dropped) {
    log_warn("grid: " + d.describe());
  }
}

}  // namespace

int plan_command(const PlanOptions& options) {
  if (!options.gpu.empty() || options.gpus > 0) return plan_on_hardware(options);
  const JobSpec job = load_job_file(options.job_path);
  const Grid grid = expand_grid(job);
  warn_dropped(grid);
  if (job.data.files.empty()) {
    log_warn("data.corpus matches no file yet; `sweepd check` and training need it");
  }
  const std::vector<RunMemory> memory = plan_memory(job, grid);
  // The peak per slot size: the most any run it may train needs per rank.
  std::map<int64_t, std::pair<double, const RunSpec*>> peaks;
  for (size_t i = 0; i < grid.runs.size(); ++i) {
    auto& [bytes, run] = peaks[memory[i].ranks];
    if (memory[i].choice.estimate.total() > bytes) {
      bytes = memory[i].choice.estimate.total();
      run = &grid.runs[i];
    }
  }
  const TimeModel time = plan_time_model(options, job, grid);
  const int64_t batch = job.train.batch_tokens;
  double total_seconds = 0;
  for (const RunSpec& run : grid.runs) total_seconds += time.seconds(run, batch);

  if (options.json) {
    nlohmann::json out;
    out["job"] = job.path;
    out["name"] = job.sweep.name;
    out["flop_convention"] = to_string(job.grid.flop_convention);
    out["batch_tokens"] = job.train.batch_tokens;
    out["time_model"] = {{"overhead_seconds_per_step", time.rate.overhead_seconds},
                         {"flops_per_second", time.rate.flops_per_second},
                         {"source", time.source}};
    for (const auto& [family, rate] : time.families)
      out["time_model"]["families"][to_string(family)] = {
          {"overhead_seconds_per_step", rate.overhead_seconds},
          {"flops_per_second", rate.flops_per_second}};
    out["runs"] = nlohmann::json::array();
    for (size_t i = 0; i < grid.runs.size(); ++i) {
      nlohmann::json r = run_json(job, grid.runs[i]);
      r["est_seconds"] = time.seconds(grid.runs[i], batch);
      r["memory"] = memory_json(memory[i]);
      out["runs"].push_back(r);
    }
    out["memory"] = {{"memory_per_rank", job.resources.memory_per_rank},
                     {"precision", job.resources.device == "cuda" ? "bf16 autocast" : "fp32"},
                     {"activation_checkpointing", job.train.activation_checkpointing},
                     {"peak_per_slot", nlohmann::json::array()}};
    for (const auto& [ranks, peak] : peaks)
      out["memory"]["peak_per_slot"].push_back(
          {{"ranks", ranks}, {"bytes_per_rank", peak.first}, {"run_id", peak.second->run_id}});
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

  bool any_moe = false;
  for (const RunSpec& run : grid.runs) any_moe |= run.model.family == Family::kMoe;
  std::cout << "sweep " << job.sweep.name << " (" << job.path << "): " << grid.runs.size()
            << " runs, FLOPs counted as " << to_string(job.grid.flop_convention)
            << ", N = " << (any_moe ? "active" : "total") << " parameters, batch "
            << job.train.batch_tokens << " tokens\n";
  if (job.has_variants()) {
    std::cout << "variants:";
    for (const Variant& v : job.variants) {
      int64_t runs = 0;
      for (const RunSpec& run : grid.runs) runs += job.variants[size_t(run.variant)].name == v.name;
      std::cout << "  " << v.name << " (" << to_string(v.model.family) << ", " << runs << " runs)";
    }
    std::cout << '\n';
  }
  if (job.tune) {
    const Variant* tuned = nullptr;
    int64_t runs = 0, variants = 0;
    for (const Variant& v : job.variants) {
      if (!v.tuned()) continue;
      tuned = &v;
      ++variants;
    }
    for (const RunSpec& run : grid.runs) runs += run.is_tune();
    std::cout << "tuning: " << runs << " tune runs first (" << variants << " variant"
              << (variants == 1 ? "" : "s") << " x " << tuned->candidates.size()
              << " candidate recipes x " << job.tune->tokens_per_param.size() << " size"
              << (job.tune->tokens_per_param.size() == 1 ? "" : "s") << " at "
              << format_sci(job.tune->budget)
              << " FLOPs); each tuned variant's grid trains with its candidate of the lowest mean "
                 "final loss (lr \"tuned\" below)\n";
  }
  std::cout << '\n';
  TextTable table({"run", "budget", "N", "N non-emb", "D", "D/N", "shape", "lr", "steps", "FLOPs",
                   "est. time", "ranks", "sharding", "mem/rank"});
  for (size_t i = 0; i < grid.runs.size(); ++i) {
    const RunSpec& run = grid.runs[i];
    char ratio[32], lr[32];
    std::snprintf(ratio, sizeof(ratio), "%.3g", run.tokens_per_param());
    if (run.recipe_at_start())
      std::snprintf(lr, sizeof(lr), "tuned");
    else
      std::snprintf(lr, sizeof(lr), "%.3g", run.lr);
    table.add_row({run.run_id, run.budget > 0 ? format_sci(run.budget) : "-",
                   format_count(double(run.law_params())),
                   format_count(double(run.params.active_non_embedding)),
                   format_count(double(run.tokens)),
                   ratio, shape_text(run.model), lr, std::to_string(run.steps),
                   format_sci(run.flops), format_duration(time.seconds(run, batch)),
                   std::to_string(memory[i].ranks), to_string(memory[i].choice.sharding),
                   format_bytes(memory[i].choice.estimate.total())});
  }
  table.print(std::cout);
  std::cout << "\npeak memory per rank (" << (job.resources.device == "cuda" ? "bf16 autocast" : "fp32")
            << (job.train.activation_checkpointing ? ", activation checkpointing" : "")
            << (job.resources.memory_per_rank > 0
                    ? ", limit " + format_bytes(job.resources.memory_per_rank)
                    : std::string(", no limit set (resources.memory_per_rank)"))
            << "):";
  for (const auto& [ranks, peak] : peaks)
    std::cout << "  slot of " << ranks << ": " << format_bytes(peak.first) << " ("
              << peak.second->run_id << ")";
  std::cout << '\n';
  std::cout << "\ntotal: " << grid.runs.size() << " runs, " << format_sci(grid.total_flops())
            << " FLOPs, est. " << format_duration(total_seconds) << " in one process\n"
            << "shape: [family] n_layer x d_model, heads (/kv key-value heads), d_ff (per expert; "
               "e/k experts/top-k, +s shared)"
            << (any_moe ? "; N, N non-emb: active parameters (the N of a mixture's law)" : "")
            << "; est. time " << time.source << "\n";
  return 0;
}

int check_command(const CheckOptions& options) {
  const JobSpec job = load_job_file(options.job_path);
  require_corpus(job);
  const Grid grid = expand_grid(job);
  warn_dropped(grid);
  plan_memory(job, grid);  // a run that cannot fit is an error here
  if (options.json) {
    nlohmann::json out = {{"job", job.path},
                          {"ok", true},
                          {"output", job.sweep.output},
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
