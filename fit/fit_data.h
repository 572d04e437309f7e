#pragma once
// The points a scaling-law fit is made from: a CSV table written by another
// framework (read here), or a sweep's HDF5 file (read by the orchestrator's
// adapter, orchestrator/sweep_fit_data.h: fit/ knows no HDF5).
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
// budget form one IsoFLOP profile), `run` (a label) and
// `non_embedding_params` (for fits in that convention) and `variant` (the
// model family or variant the run belongs to). Without a budget column,
// budgets are found by grouping the FLOP counts in log space. Every bad cell
// is a UserError naming the file, line and column.
//
// Variants: a sweep may train several model families or variants ("gpt2",
// "llama") on the same budgets; each run belongs to one (Observation::variant,
// "" when the source names none). Data with at most one variant name is one
// study, fitted as always; with several, the fit stage fits each variant on
// its own runs (variant_data) and compares them (fit/comparison.h).
//
// Budget 0 means "no nominal budget": a run given by N and D directly (a
// sweep's explicit [[grid.runs]]) or a table without a budget column.
// finish_fit_data() groups such runs by their FLOPs (infer_budgets), so every
// point of a finished FitData has a positive budget.

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fit/options.h"

namespace sweep::fit {

struct Observation {
  std::string run_id;  // the sweep's run id, or the CSV's `run` column / "line N"
  double params = 0;   // N: total parameters, or non-embedding ones (ParamConvention)
  double non_embedding_params = 0;  // N without embeddings; 0 = not known (a CSV without it)
  double tokens = 0;   // D: training tokens
  double flops = 0;    // C: training FLOPs, in the source's convention
  double loss = 0;     // final validation loss, nats per token
  double budget = 0;   // the IsoFLOP budget (FLOPs) it belongs to; 0 = none (see above)
  std::string variant;  // the model family or variant it belongs to; "" = the only one
};

// A run's training loss against FLOPs spent, for approach 1.
struct LossCurve {
  int64_t observation = 0;  // index into FitData::points
  std::vector<double> flops, loss;
};

struct Excluded {
  std::string run_id;
  std::string reason;  // "diverged at step 120: loss 9.1", "failed: ...", "dropped: highest loss"
  std::string variant = "";  // as Observation::variant; "" = the only one, or not known
};

// How one variant of a sweep was set up, so that a comparison can say which of
// two variants' differences are architecture and which are recipe: a family's
// law depends on its training recipe as much as on its architecture. Filled
// from a sweep's file (its [[variant]] tables); a CSV table names variants only.
struct VariantInfo {
  std::string name;
  std::map<std::string, std::string> model;  // [model] keys as the variant sets them (architecture)
  std::map<std::string, std::string> train;  // [train] keys (recipe), e.g. lr
  std::string lr_note;                       // how its lr was chosen ("job", "tuned at N=... from ...")
};

// A tuned variant's [tune] sweep, as its file's tune runs say: each
// candidate recipe's final losses at the tuning sizes, and the one its grid
// trains with (spec/tuning.h has the rule).
struct TuningCandidate {
  std::string label;           // "lr 0.006", "lr 0.006, weight_decay 0.1"
  std::vector<double> losses;  // final validation loss per tuning size; NaN = did not finish
  double mean_loss = NAN;      // over the sizes that finished
  bool chosen = false;
};
struct Tuning {
  std::string variant;         // "" in a job without [[variant]]
  double budget = 0;           // FLOPs of each tuning run
  std::vector<double> params;  // the tuning sizes' N, in the order of `losses`
  std::vector<TuningCandidate> candidates;
  std::string how;             // how the candidate was chosen
  std::vector<std::string> warnings;  // e.g. a choice at the end of a key's range
  bool used = false;           // its grid has started with it (else: the choice the rule makes now)
};

// What a sweep was planned to test: `sweepd predict --emit-job` writes it into
// the new job's [prediction] table (docs/job-format.md), the sweep stores it in
// its file (/prediction, docs/hdf5-layout.md), and the report compares it with
// what the sweep's runs found (fit/verification.h). NaN where a number was not
// predicted: no interval without a bootstrap, no loss where an approach's
// L(C) could not be fitted.
struct PredictedOptimum {
  int approach = 0;                                       // 1, 2, 3
  double params = NAN, params_lo = NAN, params_hi = NAN;  // N_opt at the budget
  double tokens = NAN, tokens_lo = NAN, tokens_hi = NAN;  // D_opt there
  double loss = NAN, loss_lo = NAN, loss_hi = NAN;        // the loss there, nats per token
};
struct Prediction {
  std::string source;                    // the file(s) whose laws made it
  std::string date;                      // when, UTC (ISO 8601)
  double compute = 0;                    // the budget C (FLOPs, the source's convention)
  int approach = 0;                      // whose N_opt the sweep's sizes bracket
  double confidence = 0;                 // interval level
  int64_t bootstrap = 0;                 // replicates asked for
  std::string envelope;                  // approach 1's points: "all" or "ends"
  std::vector<int> approaches;           // the approaches fitted
  std::vector<PredictedOptimum> optima;  // per approach that gave an N_opt
};

struct FitData {
  std::string source;                  // the path read
  std::string flop_convention = "6N";  // how C was counted
  ParamConvention params = ParamConvention::kTotal;  // what N counts
  double flops_per_param_token = 6;    // k in C = k·N·D (see above)
  std::vector<Observation> points;     // sorted by budget, then params
  std::vector<double> budgets;         // distinct, ascending
  std::vector<LossCurve> curves;       // empty for CSV tables
  std::vector<Excluded> excluded;      // runs not fitted, with why
  std::vector<std::string> notes;      // e.g. "budgets inferred from FLOPs"
  std::vector<Prediction> predictions;  // stored in the sweep files read (see above)
  std::vector<VariantInfo> variants;  // empty: one unnamed variant, or names only from the points
  std::vector<Tuning> tuning;         // the tuned variants' [tune] sweeps (not fitted)

  // Indices into points of each budget's runs, in budget order.
  std::vector<std::vector<int64_t>> profiles() const;
  // Each budget's lowest final loss (its best run), by budget.
  std::map<double, double> best_loss_by_budget() const;
};

// The variants of `data`: those in `variants` in their order (the job's),
// then any other name its points or excluded runs carry, sorted. One entry ""
// (or none, without points) for data that names no variant.
std::vector<std::string> variant_names(const FitData& data);

// The runs of one variant as data of their own: its points (with their
// curves), its excluded runs, the shared notes, budgets and k in C = k·N·D
// from its runs alone (under the kaplan or chinchilla convention attention
// and embedding FLOPs make k depend on the architecture). Stored predictions
// name no variant and are not carried over.
FitData variant_data(const FitData& data, const std::string& variant);

struct InputOptions {
  ParamConvention params = ParamConvention::kTotal;  // what N counts

  int64_t drop_highest = 0;     // drop the k highest-loss runs (of each variant)
  std::vector<double> budgets;  // keep only these budgets (matched within 5%); empty = all
  bool curves = true;           // read training curves (HDF5 only)
};

// True for names ending in .csv or .tsv (any case).
bool is_table_path(const std::string& path);

// Throws UserError for an unreadable table or a bad cell.
FitData read_csv_table(const std::string& path, const InputOptions& options);

// The last step of every reader: gives runs without a budget (0) budgets
// grouped from their FLOPs (with a note), counts N in options.params' convention
// (a UserError if a point's non-embedding count is unknown), drops and selects runs as `options`
// say (recording why in `excluded`), sorts the points by budget then N, and
// fills `budgets` and `curves` (curves_by_point[i] belongs to points[i]; an
// empty curve or an empty vector means none). Throws UserError for a budget
// in options.budgets that matches no run.
void finish_fit_data(FitData& data, std::vector<LossCurve> curves_by_point,
                     const InputOptions& options);

// k in C = k·N·D: the median of C/(N·D) over `points` (6 when C = 6ND).
double median_flops_per_param_token(const std::vector<Observation>& points);

// Groups FLOP counts into budgets. Sorted by C, a run starts a new group when
// its log10(C) is more than `log10_span` above the group's *smallest* (not
// its neighbour's: a continuous spread of C must not chain into one budget),
// so no group spans more than a factor 10^log10_span (1.26 by default) from
// its smallest to its largest C. Each group's budget is its geometric mean
// to 3 significant digits.
constexpr double kBudgetGroupLog10 = 0.1;  // a factor of 1.26
std::vector<double> infer_budgets(const std::vector<double>& flops,
                                  double log10_span = kBudgetGroupLog10);

}  // namespace sweep::fit
