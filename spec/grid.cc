#include "spec/grid.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <tuple>

#include "common/format.h"
#include "model/shapes.h"

namespace sweep {
namespace {

// splitmix64: a stable per-run seed from the sweep seed and the run id, the
// same on every rank and every machine.
uint64_t mix_seed(uint64_t seed, const std::string& run_id) {
  uint64_t x = seed;
  for (unsigned char c : run_id) {
    x ^= c;
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
  }
  return x;
}

// A run of `model` for about `tokens` tokens, rounded to whole steps, under
// `recipe` (the variant's, or a tune candidate's).
RunSpec make_run(const JobSpec& job, const TrainSection& recipe, const ModelConfig& model,
                 double tokens) {
  RunSpec run;
  run.model = model;
  run.params = count_params(model);
  run.flops_per_token = training_flops_per_token(model, job.grid.flop_convention);
  run.steps = std::max<int64_t>(0, std::llround(tokens / double(job.train.batch_tokens)));
  run.tokens = run.steps * job.train.batch_tokens;
  run.flops = run.flops_per_token * double(run.tokens);
  run.lr = peak_lr(recipe, model);
  run.warmup_steps = std::llround(recipe.warmup_fraction * double(run.steps));
  return run;
}

std::vector<double> target_sizes(const JobSpec& job, size_t budget_index) {
  const GridSection& g = job.grid;
  if (g.size_mode != SizeMode::kTokensPerParam) return g.params[budget_index];
  // N from C = 6 N D with D = r N; the realized shape then sets the exact D.
  std::vector<double> sizes;
  for (double ratio : g.tokens_per_param) {
    sizes.push_back(std::sqrt(g.budgets[budget_index] / (6.0 * ratio)));
  }
  return sizes;
}

}  // namespace

double peak_lr(const TrainSection& train, const ModelConfig& model) {
  switch (train.lr_rule) {
    case LrRule::kConstant:
      return train.lr;
    case LrRule::kInverseWidth:
      return train.lr * double(train.lr_base_width) / double(model.d_model);
    case LrRule::kKaplan:
      // Kaplan et al. 2020, eq. D.1, fitted for N_non_embedding up to ~1e9; kept
      // positive for the tiny models it was never fitted on.
      return std::max(1e-5,
                      0.003239 - 0.0001395 * std::log(double(count_params(model).active_non_embedding)));
  }
  return train.lr;
}

std::string DroppedRun::describe() const {
  return "dropped N~" + format_count(target_params) + " at budget " + format_sci(budget) +
         (variant.empty() ? "" : " (variant " + variant + ")") + ": " + reason;
}

double Grid::total_flops() const {
  double total = 0;
  for (const RunSpec& run : runs) total += run.flops;
  return total;
}

namespace {

void expand_variant(const JobSpec& job, int variant_index, Grid& grid) {
  const GridSection& g = job.grid;
  const Variant& variant = job.variants[size_t(variant_index)];
  const ShapeRule& rule = variant.model.shape;
  const std::string prefix = variant.name.empty() ? "" : variant.name + "-";
  const ModelConfig smallest = smallest_shape(rule);
  for (size_t b = 0; b < g.budgets.size(); ++b) {
    const double budget = g.budgets[b];
    std::set<std::pair<int64_t, int64_t>> seen;  // (n_layer, d_model) per budget
    size_t kept = 0;
    for (double target : target_sizes(job, b)) {
      if (!(target <= kMaxParams))  // only tokens_per_param can get here: params are bounded
        job.fail("grid.tokens_per_param",
                 "budget " + format_sci(budget) + " asks for models of " + format_sci(target) +
                     " parameters; allowed: targets up to " + format_sci(kMaxParams));
      const ModelConfig model = shape_for_params(target, rule);
      if (!seen.insert({model.n_layer, model.d_model}).second) {
        grid.dropped.push_back({budget, target, "same shape as another size at this budget",
                                variant.name});
        continue;
      }
      const double tokens = budget / training_flops_per_token(model, g.flop_convention);
      if (!(tokens <= kMaxTokens))
        job.fail("grid.budgets", "budget " + format_sci(budget) + " would train the model of " +
                                     format_count(double(count_params(model).active)) +
                                     " parameters on " + format_sci(tokens) +
                                     " tokens; allowed: runs of up to " + format_sci(kMaxTokens) +
                                     " tokens (larger sizes or smaller budgets)");
      RunSpec run = make_run(job, variant.train, model, tokens);
      if (variant.tuned()) run.lr = NAN;  // decided when it starts
      if (run.steps < g.min_steps) {
        grid.dropped.push_back({budget, target,
                                "only " + std::to_string(run.steps) + " steps (grid.min_steps = " +
                                    std::to_string(g.min_steps) + ")",
                                variant.name});
        continue;
      }
      run.budget = budget;
      run.target_params = target;
      run.variant = variant_index;
      run.run_id = prefix + std::string("C")
                                .append(format_sci(budget))
                                .append("-N")
                                .append(format_count(double(run.law_params())));
      grid.runs.push_back(run);
      ++kept;
    }
    if (kept == 0) {
      const double fpt = training_flops_per_token(smallest, g.flop_convention);
      const double needed = fpt * double(g.min_steps) * double(job.train.batch_tokens);
      job.fail("grid.budgets",
               "budget " + format_sci(budget) +
                   " FLOPs is too small for any model: the smallest (" +
                   format_count(double(count_params(smallest).active)) + " parameters" +
                   (variant.name.empty() ? "" : " in variant " + variant.name) + ", " +
                   std::to_string(smallest.n_layer) + " layer(s), d_model " + std::to_string(smallest.d_model) +
                   ") needs " + format_sci(needed) + " FLOPs for " + std::to_string(g.min_steps) +
                   " steps of " + std::to_string(job.train.batch_tokens) +
                   " tokens; allowed: budgets >= " + format_sci(needed));
    }
  }
  for (const ExplicitRun& explicit_run : g.runs) {
    const ModelConfig model = shape_for_params(explicit_run.params, rule);
    RunSpec run = make_run(job, variant.train, model, explicit_run.tokens);
    if (variant.tuned()) run.lr = NAN;
    if (run.steps < g.min_steps) {
      job.fail("grid.runs",
               "a run of " + format_count(explicit_run.tokens) + " tokens is only " +
                   std::to_string(run.steps) + " steps of " +
                   std::to_string(job.train.batch_tokens) +
                   " tokens; allowed: at least grid.min_steps = " + std::to_string(g.min_steps));
    }
    run.target_params = explicit_run.params;
    run.variant = variant_index;
    run.run_id = prefix + std::string("N")
                              .append(format_count(double(run.law_params())))
                     .append("-D")
                     .append(format_count(double(run.tokens)));
    grid.runs.push_back(run);
  }
}

// A tuned variant's tune runs: every candidate recipe at every tuning size.
void expand_tuning(const JobSpec& job, int variant_index, std::vector<RunSpec>& runs) {
  const TuneSection& tune = *job.tune;
  const Variant& variant = job.variants[size_t(variant_index)];
  const std::string prefix = (variant.name.empty() ? "" : variant.name + "-") + "tune-";
  std::set<std::pair<int64_t, int64_t>> seen;
  for (double ratio : tune.tokens_per_param) {
    const double target = std::sqrt(tune.budget / (6.0 * ratio));
    if (!(target <= kMaxParams))
      job.fail("tune.tokens_per_param", "asks for models of " + format_sci(target) +
                                            " parameters; allowed: up to " + format_sci(kMaxParams));
    const ModelConfig model = shape_for_params(target, variant.model.shape);
    if (!seen.insert({model.n_layer, model.d_model}).second)
      job.fail("tune.tokens_per_param",
               "two tuning sizes give the same shape" +
                   (variant.name.empty() ? std::string() : " in variant " + variant.name) +
                   " (" + std::to_string(model.n_layer) + " layers, d_model " +
                   std::to_string(model.d_model) + "); use ratios further apart");
    const double tokens = tune.budget / training_flops_per_token(model, job.grid.flop_convention);
    if (!(tokens <= kMaxTokens))
      job.fail("tune.budget", "would train a model on " + format_sci(tokens) +
                                  " tokens; allowed: up to " + format_sci(kMaxTokens));
    for (size_t c = 0; c < variant.candidates.size(); ++c) {
      RunSpec run = make_run(job, variant.candidates[c], model, tokens);
      if (run.steps < job.grid.min_steps)
        job.fail("tune.budget",
                 format_sci(tune.budget) + " FLOPs give the tuning model of " +
                     format_count(double(run.law_params())) + " parameters only " +
                     std::to_string(run.steps) + " steps (grid.min_steps = " +
                     std::to_string(job.grid.min_steps) + "); use a larger budget");
      run.role = RunRole::kTune;
      run.recipe = int(c);
      run.budget = tune.budget;
      run.target_params = target;
      run.variant = variant_index;
      run.run_id = prefix + candidate_tag(variant.candidate_values[c]) + "-C" +
                   format_sci(tune.budget) + "-N" + format_count(double(run.law_params()));
      runs.push_back(run);
    }
  }
}

}  // namespace

const TrainSection& run_recipe(const JobSpec& job, const RunSpec& run, int recipe) {
  const Variant& variant = job.variants[size_t(run.variant)];
  if (recipe < 0) recipe = run.recipe;
  return recipe < 0 ? variant.train : variant.candidates.at(size_t(recipe));
}

const char* to_string(RunRole role) { return role == RunRole::kTune ? "tune" : "grid"; }

Grid expand_grid(const JobSpec& job) {
  Grid grid;
  for (size_t v = 0; v < job.variants.size(); ++v) expand_variant(job, int(v), grid);

  // Budget by budget, variant by variant, small models first; explicit runs
  // by their FLOPs.
  auto order = [](const RunSpec& r) {
    return std::make_tuple(r.budget > 0 ? r.budget : r.flops, r.variant, r.params.active);
  };
  std::stable_sort(grid.runs.begin(), grid.runs.end(),
                   [&](const RunSpec& a, const RunSpec& b) { return order(a) < order(b); });
  // sweep.seeds: every run again with another seed (its id, hence its seed,
  // data order and initialisation, differ), beside the first.
  if (job.sweep.seeds > 1) {
    std::vector<RunSpec> repeated;
    repeated.reserve(grid.runs.size() * size_t(job.sweep.seeds));
    for (const RunSpec& run : grid.runs) {
      for (int64_t r = 0; r < job.sweep.seeds; ++r) {
        repeated.push_back(run);
        repeated.back().replica = int(r);
        if (r > 0) repeated.back().run_id += "-s" + std::to_string(r);
      }
    }
    grid.runs = std::move(repeated);
  }
  // Tune runs first: the grids of their variants wait for them.
  std::vector<RunSpec> runs;
  for (size_t v = 0; v < job.variants.size(); ++v) {
    if (job.variants[v].tuned()) expand_tuning(job, int(v), runs);
  }
  runs.insert(runs.end(), grid.runs.begin(), grid.runs.end());
  grid.runs = std::move(runs);
  std::set<std::string> ids;
  for (size_t i = 0; i < grid.runs.size(); ++i) {
    RunSpec& run = grid.runs[i];
    if (!ids.insert(run.run_id).second) {
      job.fail("grid.runs", "two runs share the id " + run.run_id + "; remove the duplicate");
    }
    run.index = int(i);
    run.seed = mix_seed(job.sweep.seed, run.run_id);
  }
  return grid;
}

}  // namespace sweep
