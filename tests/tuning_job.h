#pragma once
// The tiny study of sweep_fixture.h with its lr tuned ([tune]): three
// candidate rates at two sizes of the smallest budget, under the
// inverse-width rule, so a grid run's peak lr depends on the candidate and on
// its own width.

#include <cmath>
#include <map>
#include <string>
#include <utility>

#include "storage/store.h"
#include "sweep_fixture.h"

namespace sweep {

inline const double kTuneLr[] = {3e-4, 3e-3, 3e-2};

// The edits (SweepFixture::replace_in_job) that tune the fixture's job.
inline const std::pair<const char*, const char*> kTuneEdits[] = {
    {"lr = 3e-3\n", "lr_rule = \"inverse_width\"\nlr_base_width = 16\n"},
    {"[fit]\n", "[tune]\nlr = [3e-4, 3e-3, 3e-2]\nbudget = 3e9\ntokens_per_param = [10, 80]\n[fit]\n"}};

// The candidate of the lowest mean final loss over the sizes, from the
// file's tune runs (-1 when one has not finished).
inline int best_candidate(const SweepStore& store) {
  std::map<int64_t, std::pair<double, int>> sum;  // recipe -> (loss sum, runs)
  for (const RunInfo& run : store.runs()) {
    if (run.role != "tune") continue;
    const RunProgress p = store.progress(run.index);
    if (p.state != RunState::kDone) return -1;
    sum[run.recipe].first += p.final_eval_loss;
    ++sum[run.recipe].second;
  }
  int best = -1;
  double lowest = INFINITY;
  for (const auto& [recipe, s] : sum) {
    if (s.second != 2) return -1;
    if (s.first < lowest) lowest = s.first, best = int(recipe);
  }
  return best;
}

}  // namespace sweep
