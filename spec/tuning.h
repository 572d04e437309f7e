#pragma once
// [tune]'s choice: which candidate recipe a tuned variant's grid trains with,
// from its tune runs' final validation losses. The coordinator makes it when
// the variant's first grid run starts; the fit makes it again from the file
// to report it (the file's recipe column says what the sweep chose).
//
// The rule: the candidate with the lowest mean final loss over the tuning
// sizes, among the candidates that finished at every size (a rate that
// diverges at one size is not a rate to scale). When none did: the one that
// finished at the most sizes, lowest mean loss first; when none finished at
// all, the first candidate. Ties go to the earlier candidate.

#include <string>
#include <vector>

#include "spec/grid.h"
#include "spec/job_spec.h"

namespace sweep {

struct TuneCandidateResult {
  int recipe = 0;
  std::vector<int> runs;        // its tune runs, one per tuning size (grid order)
  std::vector<double> losses;   // their final validation losses; NaN = not done
  double mean_loss = 0;         // over the sizes that finished; NaN when none did
  int finished = 0;             // sizes that finished
};

struct TuneChoice {
  int recipe = -1;  // the candidate chosen
  std::vector<TuneCandidateResult> candidates;
  // How it was chosen: "lowest mean loss at 2 sizes", or why the fallback.
  std::string how;
  // For each tuned key whose chosen value is the smallest or largest tried:
  // "lr 0.03 is the largest value tried: the best may lie beyond it (widen tune.lr)".
  std::vector<std::string> edges;
};

// The tune runs of variant `variant` (grid order), empty when it is not tuned.
std::vector<int> tune_runs(const Grid& grid, int variant);

// What each run waits for: a tuned variant's grid runs wait for all its tune
// runs, unless its recipe is already decided (`decided[variant]`; empty: none
// is). Scheduler::set_prerequisites takes it.
std::vector<std::vector<int>> tune_prerequisites(const Grid& grid,
                                                 const std::vector<bool>& decided = {});

// `final_loss[i]`: run i's final validation loss, NaN unless it is done.
TuneChoice choose_recipe(const JobSpec& job, const Grid& grid, int variant,
                         const std::vector<double>& final_loss);

}  // namespace sweep
