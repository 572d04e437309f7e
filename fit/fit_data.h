#pragma once
// The points a scaling-law fit is made from, read from a sweep's HDF5 file or
// from a CSV table written by another framework.
//
// One Observation is one training run: N (total parameters), D (training
// tokens), C (training FLOPs), its final validation loss (nats per token) and
// the IsoFLOP budget it belongs to. A sweep file also gives each run's training
// curve, which approach 1 (the envelope over FLOPs) needs; a CSV table has none.
//
// Compute is related to N and D by C = k·N·D. k is 6 for a CSV table (and for
// sweeps written with the 6N convention); for sweeps counted with the kaplan or
// chinchilla convention, attention and embedding FLOPs make k larger for small
// models, and the fit uses the median of C/(N·D) over the runs so that the
// closed-form frontiers and the measured budgets speak of the same FLOPs.
//
// CSV tables (docs/fit.md): a header naming `params`, `loss` and one of
// `tokens` or `flops` (both allowed), optionally `budget` (runs with the same
// budget form one IsoFLOP profile) and `run` (a label). Without a budget
// column, budgets are found by grouping the FLOP counts in log space. Every
// bad cell is a UserError naming the file, line and column.

#include <cstdint>
#include <string>
#include <vector>

namespace sweep::fit {

struct Observation {
  std::string run_id;  // the sweep's run id, or the CSV's `run` column / "line N"
  double params = 0;   // N: total parameters
  double tokens = 0;   // D: training tokens
  double flops = 0;    // C: training FLOPs, in the source's convention
  double loss = 0;     // final validation loss, nats per token
  double budget = 0;   // the IsoFLOP budget (FLOPs) it belongs to
};

// A run's training loss against FLOPs spent, for approach 1.
struct LossCurve {
  int64_t observation = 0;  // index into FitData::points
  std::vector<double> flops, loss;
};

struct Excluded {
  std::string run_id;
  std::string reason;  // "diverged at step 120: loss 9.1", "failed: ...", "dropped: highest loss"
};

struct FitData {
  std::string source;                  // the path read
  std::string flop_convention = "6N";  // how C was counted
  double flops_per_param_token = 6;    // k in C = k·N·D (see above)
  std::vector<Observation> points;     // sorted by budget, then params
  std::vector<double> budgets;         // distinct, ascending
  std::vector<LossCurve> curves;       // empty for CSV tables
  std::vector<Excluded> excluded;      // runs not fitted, with why
  std::vector<std::string> notes;      // e.g. "budgets inferred from FLOPs"

  // Indices into points of each budget's runs, in budget order.
  std::vector<std::vector<int64_t>> profiles() const;
};

struct InputOptions {
  int64_t drop_highest = 0;     // drop the k highest-loss runs
  std::vector<double> budgets;  // keep only these budgets (matched within 5%); empty = all
  bool curves = true;           // read training curves (HDF5 only)
};

// Reads `path` as a CSV table when it ends in .csv (or .tsv), else as a sweep's
// HDF5 file. Throws UserError for unreadable or bad input.
FitData load_fit_data(const std::string& path, const InputOptions& options);

// True for names ending in .csv or .tsv (any case).
bool is_table_path(const std::string& path);

FitData read_csv_table(const std::string& path, const InputOptions& options);
FitData read_sweep_file(const std::string& path, const InputOptions& options);

// Groups FLOP counts into budgets: sorted log10(C) values more than `gap`
// apart start a new group; each group's budget is its geometric mean.
std::vector<double> infer_budgets(const std::vector<double>& flops, double gap = 0.1);

}  // namespace sweep::fit
