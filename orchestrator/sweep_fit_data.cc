#include "orchestrator/sweep_fit_data.h"

#include <cmath>
#include <utility>
#include <vector>

#include "storage/store.h"

namespace sweep {

fit::FitData read_sweep_fit_data(const std::string& path, const fit::InputOptions& options) {
  const SweepStore store = SweepStore::open_read_only(path);
  fit::FitData data;
  data.source = path;
  data.flop_convention = store.info().flop_convention;
  std::vector<fit::LossCurve> curves;
  int64_t unfinished = 0;
  for (const RunInfo& run : store.runs()) {
    const RunProgress progress = store.progress(run.index);
    switch (progress.state) {
      case RunState::kDone:
        break;
      case RunState::kDiverged:
      case RunState::kFailed:
        data.excluded.push_back(
            {run.run_id, std::string(to_string(progress.state)) + ": " + progress.reason});
        continue;
      default:
        ++unfinished;
        data.excluded.push_back(
            {run.run_id, std::string("not finished (") + to_string(progress.state) + ")"});
        continue;
    }
    if (!std::isfinite(progress.final_eval_loss) || progress.final_eval_loss <= 0) {
      data.excluded.push_back({run.run_id, "done without a validation loss"});
      continue;
    }
    fit::Observation p;
    p.run_id = run.run_id;
    p.params = static_cast<double>(run.params_total);
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

}  // namespace sweep
