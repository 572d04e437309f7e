#include "spec/tuning.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sweep {

std::vector<int> tune_runs(const Grid& grid, int variant) {
  std::vector<int> out;
  for (const RunSpec& run : grid.runs) {
    if (run.is_tune() && run.variant == variant) out.push_back(run.index);
  }
  return out;
}

std::vector<std::vector<int>> tune_prerequisites(const Grid& grid,
                                                 const std::vector<bool>& decided) {
  std::vector<std::vector<int>> after(grid.runs.size());
  for (const RunSpec& run : grid.runs) {
    if (!run.recipe_at_start()) continue;
    if (size_t(run.variant) < decided.size() && decided[size_t(run.variant)]) continue;
    after[size_t(run.index)] = tune_runs(grid, run.variant);
  }
  return after;
}

TuneChoice choose_recipe(const JobSpec& job, const Grid& grid, int variant,
                         const std::vector<double>& final_loss) {
  TuneChoice choice;
  const Variant& v = job.variants[size_t(variant)];
  for (size_t c = 0; c < v.candidates.size(); ++c) {
    TuneCandidateResult result;
    result.recipe = int(c);
    choice.candidates.push_back(result);
  }
  if (choice.candidates.empty()) return choice;
  for (int index : tune_runs(grid, variant)) {
    TuneCandidateResult& result = choice.candidates[size_t(grid.runs[size_t(index)].recipe)];
    result.runs.push_back(index);
    result.losses.push_back(final_loss[size_t(index)]);
  }
  int sizes = 0;
  for (TuneCandidateResult& result : choice.candidates) {
    double sum = 0;
    for (double loss : result.losses) {
      if (std::isfinite(loss)) {
        sum += loss;
        ++result.finished;
      }
    }
    result.mean_loss = result.finished > 0 ? sum / result.finished : NAN;
    sizes = std::max(sizes, int(result.losses.size()));
  }
  // Most sizes finished, then the lowest mean loss; the first on ties.
  const TuneCandidateResult* best = nullptr;
  for (const TuneCandidateResult& result : choice.candidates) {
    if (result.finished == 0) continue;
    if (!best || result.finished > best->finished ||
        (result.finished == best->finished && result.mean_loss < best->mean_loss))
      best = &result;
  }
  const std::string at = std::to_string(sizes) + (sizes == 1 ? " size" : " sizes");
  if (!best) {
    choice.recipe = 0;
    choice.how = "no candidate finished at any of the " + at + ": the first candidate";
  } else if (best->finished < sizes) {
    choice.recipe = best->recipe;
    choice.how = "no candidate finished at all " + at + ": the lowest mean loss at the most (" +
                 std::to_string(best->finished) + ")";
  } else {
    choice.recipe = best->recipe;
    choice.how = "the lowest mean final loss at " + at;
  }
  // A choice at the end of a key's range says little about where its best is.
  const std::map<std::string, double>& values = v.candidate_values[size_t(choice.recipe)];
  for (const auto& [key, tried] : job.tune->values) {
    if (tried.size() < 2 || !best) continue;
    const double value = values.at(key);
    const double lo = *std::min_element(tried.begin(), tried.end());
    const double hi = *std::max_element(tried.begin(), tried.end());
    if (value != lo && value != hi) continue;
    char text[64];
    std::snprintf(text, sizeof(text), "%s %g", key.c_str(), value);
    choice.edges.push_back(std::string(text) + " is the " + (value == hi ? "largest" : "smallest") +
                           " value tried: the best may lie beyond it (widen tune." + key + ")");
  }
  return choice;
}

}  // namespace sweep
