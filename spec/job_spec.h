#pragma once
// JobSpec: a TOML job file, validated. docs/job-format.md documents every key
// (type, default, constraint, example); this file is its one implementation.
//
// load_job_file() either returns a spec that can be planned and run, or throws
// UserError with one line "path:line:col: key = value: what is wrong; allowed ..."
// (exit code 2). It writes nothing.

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fit/fit_data.h"
#include "fit/options.h"
#include "model/counting.h"
#include "model/memory.h"
#include "model/shapes.h"

namespace sweep {

struct SweepSection {
  std::string name;                  // default: the job file's stem
  std::string output;                // HDF5 path; default "runs/<name>.h5"
  uint64_t seed = 1234;              // data order and initialisation of every run
  double checkpoint_interval = 600;  // seconds of training between checkpoints of a run
  int64_t max_attempts = 2;  // tries per failed run in one invocation (from its checkpoint)
  int64_t seeds = 1;         // runs of every (N, D), each with its own data order and init
};

enum class Tokenizer { kBytes, kTokensU16, kSentencePiece };
// Where the eval loss's validation tokens come from (data.validation, resolved).
enum class Validation {
  kSplit,   // every k-th block of the corpus, k = 1 / validation_fraction
  kShards,  // the token files named as validation ("val" in the name: model/token_files.h)
};

struct DataSection {
  std::vector<std::string> corpus;  // paths or globs as written
  std::vector<std::string> files;   // what they match, sorted; empty if none exist
  Tokenizer tokenizer = Tokenizer::kBytes;
  // 256 for bytes; required for "u16" token files; for "sentencepiece" the
  // size of the model to train, or the given model's (read when the job loads).
  int64_t vocab_size = 256;
  std::string tokenizer_model;                  // sentencepiece: a model to use; "" = train one
  int64_t tokenizer_sample_bytes = 10'000'000;  // sentencepiece: text a trained model learns from
  int64_t seq_len = 128;                        // tokens per training sequence
  Validation validation = Validation::kSplit;
  double validation_fraction = 0.01;  // share of the corpus held out for eval loss (kSplit)
  double bytes_per_token = NAN;       // "u16": bytes of text per token, when the job gives it
  std::string cache_dir;              // tokenized corpus cache; default beside the output
};

// "bytes", "u16", "sentencepiece": as the job file writes it.
std::string to_string(Tokenizer tokenizer);

// How model sizes are chosen at each compute budget.
enum class SizeMode {
  kParams,           // the same list of target N at every budget
  kParamsPerBudget,  // one list of target N per budget
  kTokensPerParam,   // per budget: N = sqrt(C / (6 * tokens_per_param)) over a list
};

struct ExplicitRun {
  double params = 0;  // target total parameters
  double tokens = 0;  // training tokens
};

// The largest target N and D a job may ask for: far beyond any model trained,
// and small enough that parameter, token and step counts stay exact in int64.
inline constexpr double kMaxParams = 1e15;
inline constexpr double kMaxTokens = 1e18;

struct GridSection {
  FlopConvention flop_convention = FlopConvention::kSixN;
  std::vector<double> budgets;  // FLOPs, ascending
  SizeMode size_mode = SizeMode::kTokensPerParam;
  std::vector<std::vector<double>> params;  // per budget (kParams repeats one list)
  std::vector<double> tokens_per_param;     // kTokensPerParam
  std::vector<ExplicitRun> runs;            // [[grid.runs]]
  int64_t min_steps = 20;                   // shorter runs are dropped from the grid
};

struct ModelSection {
  Family family = Family::kGpt2;
  ShapeRule shape;  // the family's shape rule (+ vocab and seq_len from [data])
};

enum class LrRule {
  kConstant,      // lr at every size
  kInverseWidth,  // lr * lr_base_width / d_model (muP-like width scaling for Adam)
  kKaplan,        // 0.003239 - 0.0001395 ln(N_non_embedding), Kaplan et al. 2020 eq. D.1
};

struct TrainSection {
  int64_t batch_tokens = 2048;     // tokens per optimizer step (all ranks, all micro-batches)
  int64_t micro_batch_tokens = 0;  // tokens per forward/backward; 0 = batch_tokens
  double lr = 1e-3;                // peak learning rate (see lr_rule)
  LrRule lr_rule = LrRule::kConstant;
  int64_t lr_base_width = 256;    // d_model at which lr applies (inverse_width)
  double warmup_fraction = 0.05;  // linear warmup, as a share of the run's steps
  double min_lr_ratio = 0.1;      // cosine decays to min_lr_ratio * peak at the run's end
  double weight_decay = 0.1;      // AdamW, on matrices only
  double beta1 = 0.9;
  double beta2 = 0.95;
  double grad_clip = 1.0;       // global gradient-norm clip; 0 = off
  int64_t eval_interval = 100;  // optimizer steps between evaluations (and at the end)
  int64_t eval_tokens = 65536;  // validation tokens per evaluation
  int64_t log_interval = 10;    // optimizer steps between training-curve points
  bool activation_checkpointing = false;  // keep only block inputs; recompute in backward
};

// Runs of at least `params` total parameters train only on slots of at least
// `ranks` ranks (resources.large_runs).
struct LargeRunRule {
  double params = 0;
  int64_t ranks = 1;
};

struct ResourcesSection {
  // Slot sizes (ranks_per_run): one size, or a list that cuts each node's
  // workers into slots of these sizes in turn (e.g. [4, 2, 2]).
  std::vector<int64_t> slot_sizes = {1};
  // ranks_per_run = "auto": nested groups of 1, 2, 4, ... ranks and of 2, 4,
  // ... whole nodes; the scheduler sizes each run's group (docs/cluster.md).
  bool auto_slots = false;
  int64_t max_nodes_per_run = 0;  // "auto" only: most nodes one run spans; 0 = the batch's limit
  std::string gpu = "h100";       // hardware of the efficiency model ("auto", `sweepd plan`)
  std::vector<LargeRunRule> large_runs;
  std::string device = "auto";   // "cpu", "cuda" or "auto"
  int64_t threads_per_rank = 0;  // intra-op threads; 0 = cores / ranks on the node
  // Bytes one rank may hold (resources.memory_per_rank); 0 = not set (the
  // device's, when there is one; no limit on CPU).
  double memory_per_rank = 0;
  std::optional<Sharding> sharding;  // resources.sharding; nullopt = "auto"

  // Fewest ranks a run of `params` total parameters may train on.
  int64_t ranks_needed(int64_t params) const;
};

struct FitTarget {
  std::string name;    // label in reports
  double compute = 0;  // FLOPs; 0 when the target is given as (params, tokens)
  double params = 0;
  double tokens = 0;
};

struct FitSection {
  // Defaults are fit::AnalysisOptions' (fit/options.h), the one place they are set.
  std::vector<int> approaches = fit::AnalysisOptions{}.approaches;  // Chinchilla approaches
  int64_t bootstrap = fit::AnalysisOptions{}.bootstrap;  // resamples for confidence intervals
  fit::ParamConvention params = fit::ParamConvention::kTotal;  // what N counts in the fits
  int64_t holdout_budgets = fit::kDefaultHoldout;  // largest budgets held out for the backtest
                                                   // (read_fit: default_holdout_budgets())
  std::vector<FitTarget> targets;
};

// [[variant]]: one model family, shape rule or recipe trained on every budget
// of the grid, fitted on its own and compared with the others (docs/families.md).
// A variant sets [model] keys (its architecture) and recipe keys of [train]
// (kVariantTrainKeys); everything else is the job's.
struct Variant {
  std::string name;    // "" in a job without [[variant]]: run ids as they always were
  ModelSection model;  // [model] with the variant's keys over it
  TrainSection train;  // [train] with the variant's recipe keys over it
  // The keys the variant sets, rendered as written ("family" -> "\"llama\"").
  std::map<std::string, std::string> model_keys, train_keys;
  // Tuned by [tune]: one recipe per candidate (`train` with the candidate's
  // values over it) and those values; both empty for a variant not tuned.
  std::vector<TrainSection> candidates;
  std::vector<std::map<std::string, double>> candidate_values;

  bool tuned() const { return !candidates.empty(); }
};

// [tune]: recipe values chosen by a small sweep before the grid trains
// (docs/families.md). Every combination of the listed values is a candidate
// recipe; each tuned variant trains every candidate at `tokens_per_param`'s
// sizes of one budget, and its grid runs train with the candidate of the
// lowest mean final validation loss over those sizes (spec/tuning.h).
struct TuneSection {
  // Recipe key -> values to try, in kTuneKeys' order.
  std::vector<std::pair<std::string, std::vector<double>>> values;
  double budget = 0;                     // FLOPs of each tuning run (default: the smallest budget)
  std::vector<double> tokens_per_param;  // one size each: N = sqrt(budget / (6 r)); default {20}
  std::vector<std::string> variants;     // the variants tuned (default: every one)
};

// The [train] keys a variant may set: the recipe. Batch, evaluation and
// memory keys are the job's, the same for every variant, so that every
// variant is evaluated on the same tokens and planned on the same slots.
inline constexpr const char* kVariantTrainKeys[] = {
    "lr", "lr_rule", "lr_base_width", "warmup_fraction", "min_lr_ratio",
    "weight_decay", "beta1", "beta2", "grad_clip"};

// The recipe keys [tune] may try, in the order its candidates vary them (the
// last fastest). Not warmup_fraction: each run's warmup steps are in the file
// before it starts.
inline constexpr const char* kTuneKeys[] = {"lr",    "min_lr_ratio", "weight_decay",
                                            "beta1", "beta2",        "grad_clip"};

struct JobSpec {
  std::string path;  // as given on the command line
  std::string text;  // the file's full text (stored in the HDF5 file)
  SweepSection sweep;
  DataSection data;
  GridSection grid;
  ModelSection model;  // [model] as the job writes it (variants start from it)
  TrainSection train;  // [train] as the job writes it
  // Never empty: one unnamed variant ([model], [train]) without [[variant]].
  std::vector<Variant> variants;
  std::optional<TuneSection> tune;  // [tune], when the job has it
  ResourcesSection resources;
  FitSection fit;
  // [prediction]: what this sweep was planned to test (`sweepd predict
  // --emit-job`); stored in the sweep's file at its start.
  std::optional<fit::Prediction> prediction;
  // "path:line:col" of every key that was set, for errors found later (grid
  // expansion, missing corpus) that must still point at the source.
  std::map<std::string, std::string> locations;

  bool has_variants() const { return !variants.empty() && !variants.front().name.empty(); }

  // "path:line:col: key = value: what" as a UserError for `key`.
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
};

// A variant's settings as a job file writes them (every key that applies to
// its family, defaults included): what a comparison of two variants lists as
// their architecture ([model]) and recipe ([train]) differences.
std::map<std::string, std::string> model_settings(const ModelSection& model);
std::map<std::string, std::string> recipe_settings(const TrainSection& train);

// A candidate's values as a label ("lr 6e-3, weight_decay 0.1") and as the
// part of a tuning run's id ("lr6e-3-weight_decay0.1").
std::string candidate_label(const std::map<std::string, double>& values);
std::string candidate_tag(const std::map<std::string, double>& values);

// Parses and validates a job file. Throws UserError. Does not require the
// corpus to exist (planning works without data); see require_corpus().
JobSpec load_job_file(const std::string& path);
JobSpec parse_job_text(const std::string& text, const std::string& path);

// Throws UserError (at data.corpus) if no corpus file exists.
void require_corpus(const JobSpec& job);

// The [prediction] table (with its [[prediction.optima]]) as parse_job_text
// reads it back: every number to 6 significant digits, NaN ones left out.
std::string prediction_toml(const fit::Prediction& prediction);

}  // namespace sweep
