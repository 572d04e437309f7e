#pragma once
// SweepStore: the one HDF5 file of a sweep (docs/hdf5-layout.md), written by
// rank 0 alone.
//
//   /                      attributes: schema_version, sweepd_version, job_path,
//                          job_text, fingerprint, flop_convention,
//                          param_convention, sweep_name, bytes_per_token, created
//   /summary               one row per run (compound): spec, role, status,
//                          reason, final losses; updated in place
//   /runs/<run_id>/        attributes: the run's resolved spec
//   /runs/<run_id>/train   append-only curve (compound): step, tokens, flops,
//                          loss, lr, grad_norm, wall_time
//   /runs/<run_id>/eval    append-only curve: step, tokens, flops, loss,
//                          bits_per_byte, wall_time
//   /attempts              one row per ended attempt at a run (compound): run,
//                          attempt, outcome, start_step, end_step,
//                          wall_seconds, reason, ended; appended, never rewritten
//   /prediction            only for a job with [prediction]: attributes source,
//                          date, compute, approach, confidence, bootstrap,
//                          envelope, approaches; written at creation, never changed
//   /prediction/optima     one row per approach (compound): approach, params,
//                          tokens, loss, each with _lo and _hi (NaN = none)
//
// The file is written in SWMR mode (HDF5's single-writer/multiple-reader), so
// `sweepd status` and h5py (`h5py.File(path, "r", swmr=True)`) can read it while
// the sweep runs, and a killed sweep leaves a readable file. SWMR forbids
// creating objects or attributes once it starts, which is why every run's
// group, curves and summary row exist from the start, and why a run's status
// lives in /summary (data) rather than in attributes.
//
// The same holds for a tuned learning rate: a grid run whose variant is tuned
// first (by its "tune" runs) is created with lr NaN and learns its peak lr
// and its recipe (the [tune] candidate chosen) when it first starts
// (set_recipe). Its attributes stay NaN and -1; the summary's lr and recipe
// columns are the source of truth, and load_runs() takes them for every run
// whose lr attribute is NaN (still NaN: the run has not started). A reader's
// runs() are as of its open().
//
// Resume: open() on an existing file checks that it is a sweepd file written
// for the same grid (its fingerprint), then lets the caller truncate partial
// runs' curves to their checkpoints before SWMR writing starts.
//
// A second process writing the same file is stopped by an advisory lock on
// "<file>.lock". Errors the user can fix (foreign, corrupt or damaged file,
// another grid, a held lock) are UserError. Readers open SWMR only while a
// writer holds that lock, and then retry a torn metadata read a few times; a
// file nobody writes is read as a plain file, so a damaged one is refused at
// once (HDF5's SWMR retry loop would sleep for minutes on it).
//
// HDF5's own header stays inside store.cc: handles are plain int64_t here.

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/records.h"

namespace sweep {

// 2: /attempts and the summary's attempts column. 3: model families and
// variants (the summary's variant, family and params_active columns; run
// attributes variant, family, params_active, ...). 4: tuning runs (the
// summary's role and recipe columns, run attributes role, recipe) and an lr decided when a run
// starts (NaN until then). Older files are read (schema 3 as grid runs only;
// schema 2 as one gpt2 variant; schema 1 without history) but not resumed.
inline constexpr int kSchemaVersion = 4;

// A prediction the sweep was planned to test (the job's [prediction], made by
// `sweepd predict --emit-job`): what /prediction holds. NaN = not predicted.
struct PredictedOptimumRecord {  // a /prediction/optima row, as stored
  int64_t approach = 0;
  double params = NAN, params_lo = NAN, params_hi = NAN;  // N_opt
  double tokens = NAN, tokens_lo = NAN, tokens_hi = NAN;  // D_opt
  double loss = NAN, loss_lo = NAN, loss_hi = NAN;        // nats per token
};
struct PredictionRecord {
  std::string source, date, envelope;
  double compute = 0, confidence = NAN;  // FLOPs; interval level
  int64_t approach = 0, bootstrap = 0;   // the approach the sizes bracket; replicates
  std::vector<int64_t> approaches;
  std::vector<PredictedOptimumRecord> optima;
};

// What the file says about the sweep as a whole (root attributes).
struct SweepInfo {
  std::string sweep_name, job_path, job_text, sweepd_version, flop_convention;
  std::string fingerprint;     // canonical text of every run's resolved spec
  double bytes_per_token = 1;  // 1 for the byte tokenizer; NaN when unknown
  std::optional<PredictionRecord> prediction;  // /prediction, when the job has one
};

// One run's resolved spec: its group's attributes and its summary row.
struct RunInfo {
  std::string run_id;
  std::string variant;          // [[variant]] name; "" for a job without variants
  std::string family = "gpt2";  // model family (model/config.h)
  // "grid": a run of the IsoFLOP grid; "tune": a small run that chooses its
  // variant's lr (and other recipe keys) before the variant's grid trains.
  std::string role = "grid";
  int64_t index = 0;
  double budget = 0, target_params = 0;
  int64_t params_total = 0, params_non_embedding = 0;
  // What one token uses (the N of the run's law): = total for dense families.
  int64_t params_active = 0, params_active_non_embedding = 0;
  int64_t n_kv_head = 0, n_experts = 0, top_k = 0;  // 0 = not used by the family
  int64_t n_layer = 0, d_model = 0, n_head = 0, d_ff = 0, vocab_size = 0, seq_len = 0;
  int64_t tokens = 0, steps = 0, batch_tokens = 0, warmup_steps = 0;
  double flops = 0, flops_per_token = 0;
  double lr = 0;  // peak; NaN = decided when the run first starts (set_recipe)
  // Its recipe: the index of a [tune] candidate of its variant (a tune run's
  // own; a tuned grid run's chosen one, -1 until it starts); -1 otherwise.
  int64_t recipe = -1;
  uint64_t seed = 0;
};

// The mutable part of a summary row.
struct RunProgress {
  RunState state = RunState::kPending;
  std::string reason;
  int64_t steps_done = 0;
  double final_eval_loss = NAN, final_train_loss = NAN, wall_seconds = 0, tokens_per_second = 0;
  int64_t attempts = 0;  // attempts ended so far, over every invocation
};

// One ended attempt at a run (/attempts).
struct AttemptRecord {
  int64_t run = 0;      // run index
  int64_t attempt = 0;  // 1, 2, ... over the run's life in this file
  RunOutcome outcome = RunOutcome::kFailed;
  int64_t start_step = 0;  // resumed from this step (0: from scratch)
  int64_t end_step = 0;    // steps done when it ended
  double wall_seconds = 0;  // this attempt's own time
  std::string reason;
  std::string ended;  // UTC, ISO 8601; "" = now (when appended)
};

class SweepStore {
 public:
  // Creates `path` for a new sweep, or opens it to resume one. Holds the lock
  // until destruction. Throws UserError (see above).
  static SweepStore open(const std::string& path, const SweepInfo& info,
                         const std::vector<RunInfo>& runs);
  // Opens a file read-only (SWMR reader), for status and fits.
  static SweepStore open_read_only(const std::string& path);

  SweepStore(SweepStore&&) noexcept;
  SweepStore& operator=(SweepStore&&) = delete;
  ~SweepStore();

  bool created() const { return created_; }  // false when resuming
  const SweepInfo& info() const { return info_; }
  const std::vector<RunInfo>& runs() const { return runs_; }
  RunProgress progress(int64_t index) const;  // the summary row's status part

  // Make a run's curves exactly `train` and `eval` (the checkpoint's curve,
  // or nothing for a fresh start); before or during SWMR writing.
  void reset_curves(int64_t index, const std::vector<TrainRecord>& train,
                    const std::vector<EvalRecord>& eval);
  // Switches to SWMR writing: from here on readers can follow along.
  void start_writing();

  void append_train(int64_t index, const TrainRecord& record);
  void append_eval(int64_t index, const EvalRecord& record);
  void set_progress(int64_t index, const RunProgress& progress);
  // A run's peak lr and recipe, decided as it first starts: rewrites its
  // summary row's lr and recipe and keeps the row's status part as stored;
  // also during SWMR writing.
  void set_recipe(int64_t index, double lr, int64_t recipe);
  void append_attempt(const AttemptRecord& attempt);
  // Makes everything written so far visible to readers and durable.
  void flush();

  std::vector<TrainRecord> train_curve(int64_t index) const;
  std::vector<EvalRecord> eval_curve(int64_t index) const;
  std::vector<AttemptRecord> attempts() const;  // in the order they ended

 private:
  SweepStore() = default;
  void close();
  void load_runs();
  void verify() const;  // reads every row; throws on a damaged file
  using hid = int64_t;  // hid_t

  std::string path_;
  hid file_ = -1;
  int lock_fd_ = -1;
  bool created_ = false, writable_ = false;
  SweepInfo info_;
  std::vector<RunInfo> runs_;
  std::vector<hid> train_sets_, eval_sets_;  // open dataset handles, per run
  hid summary_ = -1, attempts_ = -1;
  int64_t schema_ = kSchemaVersion;
  bool live_ = false;  // a reader of a file some writer holds: SWMR, refresh before reads
};

}  // namespace sweep
