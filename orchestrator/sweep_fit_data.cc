#include "orchestrator/sweep_fit_data.h"

#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/format.h"
#include "fit/merge.h"
#include "spec/grid.h"
#include "spec/job_spec.h"
#include "spec/tuning.h"

namespace sweep {

namespace {

// The job the file keeps, or nothing (with a note) when its text no longer
// parses here (a tokenizer model since moved).
std::optional<JobSpec> stored_job(const SweepInfo& info, fit::FitData& data) {
  try {
    return parse_job_text(info.job_text, info.job_path);
  } catch (const UserError& e) {
    data.notes.push_back(std::string("variant settings and tuning not read from the stored job: ") +
                         e.what());
    return std::nullopt;
  }
}

// Each tuned variant's [tune] sweep: its tune runs' losses, and the candidate
// its grid runs trained with (the file's recipe column), or, before any of
// them started, the one the rule picks from the losses so far.
void read_tuning(const SweepStore& store, const JobSpec& job, fit::FitData& data) {
  const Grid grid = expand_grid(job);
  if (grid.runs.size() != store.runs().size()) return;  // not this file's grid
  std::vector<double> final_loss(grid.runs.size(), NAN);
  std::vector<int> used(job.variants.size(), -1);
  for (const RunInfo& run : store.runs()) {
    if (run.run_id != grid.runs[size_t(run.index)].run_id) return;
    const RunProgress p = store.progress(run.index);
    if (p.state == RunState::kDone) final_loss[size_t(run.index)] = p.final_eval_loss;
    const RunSpec& spec = grid.runs[size_t(run.index)];
    if (!spec.is_tune() && run.recipe >= 0) used[size_t(spec.variant)] = int(run.recipe);
  }
  for (size_t v = 0; v < job.variants.size(); ++v) {
    const Variant& variant = job.variants[v];
    if (!variant.tuned()) continue;
    const TuneChoice choice = choose_recipe(job, grid, int(v), final_loss);
    fit::Tuning t;
    t.variant = variant.name;
    t.budget = job.tune->budget;
    t.used = used[v] >= 0;
    const int chosen = t.used ? used[v] : choice.recipe;
    t.how = choice.how;
    t.warnings = choice.edges;
    if (t.used && chosen != choice.recipe) {
      t.how = "the candidate its grid started with (a tune run finished since)";
      t.warnings.clear();
    }
    for (const TuneCandidateResult& c : choice.candidates) {
      fit::TuningCandidate out;
      out.label = candidate_label(variant.candidate_values[size_t(c.recipe)]);
      out.losses = c.losses;
      out.mean_loss = c.mean_loss;
      out.chosen = c.recipe == chosen;
      t.candidates.push_back(std::move(out));
      if (t.params.empty())
        for (int run : c.runs) t.params.push_back(double(grid.runs[size_t(run)].law_params()));
    }
    for (fit::VariantInfo& info : data.variants) {
      if (info.name != variant.name) continue;
      info.train = recipe_settings(variant.candidates[size_t(chosen)]);
      // The value is in `train`; the note says how it came (the same for two
      // variants tuned alike, so a comparison lists only the values).
      info.lr_note = "tuned ([tune]: the best of " + std::to_string(t.candidates.size()) +
                     " candidates at " + format_sci(t.budget) + " FLOPs)";
    }
    data.tuning.push_back(std::move(t));
  }
}

// Each [[variant]]'s settings, from the job text the file keeps: what a
// comparison calls architecture and recipe.
void read_variants(const JobSpec& job, fit::FitData& data) {
  if (!job.has_variants()) return;
  for (const Variant& v : job.variants) {
    fit::VariantInfo out;
    out.name = v.name;
    out.model = model_settings(v.model);
    out.train = recipe_settings(v.train);
    out.lr_note = v.train_keys.count("lr") ? "set by the variant" : "the job's";
    data.variants.push_back(std::move(out));
  }
}

}  // namespace

fit::FitData read_sweep_fit_data(const std::string& path, const fit::InputOptions& options) {
  const SweepStore store = SweepStore::open_read_only(path);
  fit::FitData data;
  data.source = path;
  data.flop_convention = store.info().flop_convention;
  if (store.info().prediction)
    data.predictions.push_back(prediction_from_record(*store.info().prediction));
  if (const std::optional<JobSpec> job = stored_job(store.info(), data)) {
    read_variants(*job, data);
    read_tuning(store, *job, data);
  }
  std::vector<fit::LossCurve> curves;
  int64_t unfinished = 0;
  for (const RunInfo& run : store.runs()) {
    if (run.role == "tune") continue;  // a recipe's trial, off the grid (data.tuning)
    const RunProgress progress = store.progress(run.index);
    switch (progress.state) {
      case RunState::kDone:
        break;
      case RunState::kDiverged:
      case RunState::kFailed:
        data.excluded.push_back({run.run_id,
                                 std::string(to_string(progress.state)) + ": " + progress.reason,
                                 run.variant});
        continue;
      default:
        ++unfinished;
        data.excluded.push_back(
            {run.run_id, std::string("not finished (") + to_string(progress.state) + ")",
             run.variant});
        continue;
    }
    if (!std::isfinite(progress.final_eval_loss) || progress.final_eval_loss <= 0) {
      data.excluded.push_back({run.run_id, "done without a validation loss", run.variant});
      continue;
    }
    fit::Observation p;
    p.run_id = run.run_id;
    p.variant = run.variant;
    // The N of the run's law: active parameters (= total for dense families).
    p.params = static_cast<double>(run.params_active);
    p.non_embedding_params = static_cast<double>(run.params_active_non_embedding);
    p.tokens = static_cast<double>(run.tokens);
    p.flops = run.flops;
    p.loss = progress.final_eval_loss;
    p.budget = run.budget;  // 0 for an explicit run: no nominal budget
    data.points.push_back(p);
    fit::LossCurve curve;
    if (options.curves) {
      for (const TrainRecord& r : store.train_curve(run.index)) {
        if (!std::isfinite(r.loss) || r.flops <= 0) continue;
        curve.flops.push_back(r.flops);
        curve.loss.push_back(r.loss);
      }
    }
    curves.push_back(std::move(curve));
  }
  if (unfinished > 0)
    data.notes.push_back(std::to_string(unfinished) + " runs not finished yet are left out");
  // Under the kaplan and chinchilla conventions attention and embedding FLOPs
  // make C/(N·D) larger than 6 for small models (fit/fit_data.h).
  if (!data.points.empty())
    data.flops_per_param_token = fit::median_flops_per_param_token(data.points);
  fit::finish_fit_data(data, std::move(curves), options);
  return data;
}

fit::FitData load_fit_data(const std::string& path, const fit::InputOptions& options) {
  if (fit::is_table_path(path)) return fit::read_csv_table(path, options);
  return read_sweep_fit_data(path, options);
}

fit::FitData load_fit_data(const std::vector<std::string>& paths,
                           const fit::InputOptions& options) {
  if (paths.empty()) throw UserError("no sweep file or table given");
  if (paths.size() == 1) return load_fit_data(paths.front(), options);
  // Runs are dropped and budgets chosen over the union, not file by file.
  fit::InputOptions each;
  each.curves = options.curves;
  std::vector<fit::FitData> sources;
  for (const std::string& path : paths) sources.push_back(load_fit_data(path, each));
  return fit::merge_fit_data(std::move(sources), options);
}

PredictionRecord prediction_record(const fit::Prediction& p) {
  PredictionRecord r;
  r.source = p.source;
  r.date = p.date;
  r.envelope = p.envelope;
  r.compute = p.compute;
  r.confidence = p.confidence;
  r.approach = p.approach;
  r.bootstrap = p.bootstrap;
  r.approaches.assign(p.approaches.begin(), p.approaches.end());
  for (const fit::PredictedOptimum& o : p.optima)
    r.optima.push_back({o.approach, o.params, o.params_lo, o.params_hi, o.tokens, o.tokens_lo,
                        o.tokens_hi, o.loss, o.loss_lo, o.loss_hi});
  return r;
}

fit::Prediction prediction_from_record(const PredictionRecord& r) {
  fit::Prediction p;
  p.source = r.source;
  p.date = r.date;
  p.envelope = r.envelope;
  p.compute = r.compute;
  p.confidence = r.confidence;
  p.approach = static_cast<int>(r.approach);
  p.bootstrap = r.bootstrap;
  p.approaches.assign(r.approaches.begin(), r.approaches.end());
  for (const PredictedOptimumRecord& o : r.optima)
    p.optima.push_back({static_cast<int>(o.approach), o.params, o.params_lo, o.params_hi,
                        o.tokens, o.tokens_lo, o.tokens_hi, o.loss, o.loss_lo, o.loss_hi});
  return p;
}

}  // namespace sweep
