#include "orchestrator/sweep_setup.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/format.h"
#include "common/log.h"
#include "orchestrator/sweep_fit_data.h"
#include "version.h"

namespace sweep {

std::string sweep_fingerprint(const JobSpec& job, const Grid& grid) {
  const TrainSection& t = job.train;
  nlohmann::json f;
  f["data"] = {{"files", job.data.files},
               {"tokenizer", to_string(job.data.tokenizer)},
               {"seq_len", job.data.seq_len},
               {"validation_fraction", job.data.validation_fraction}};
  // Only where they are not the defaults: a sweep started before these keys
  // existed resumes with the same fingerprint.
  if (job.data.validation == Validation::kShards) f["data"]["validation"] = "shards";
  if (job.data.tokenizer == Tokenizer::kSentencePiece) {
    f["data"]["tokenizer_model"] = job.data.tokenizer_model;
    f["data"]["tokenizer_sample_bytes"] = job.data.tokenizer_sample_bytes;
  }
  f["train"] = {{"batch_tokens", t.batch_tokens},
                {"micro_batch_tokens", t.micro_batch_tokens},
                {"min_lr_ratio", t.min_lr_ratio},
                {"weight_decay", t.weight_decay},
                {"beta1", t.beta1},
                {"beta2", t.beta2},
                {"grad_clip", t.grad_clip},
                {"eval_interval", t.eval_interval},
                {"eval_tokens", t.eval_tokens},
                {"log_interval", t.log_interval}};
  f["flop_convention"] = to_string(job.grid.flop_convention);
  for (const RunSpec& r : grid.runs) {
    nlohmann::json run = {r.run_id, r.model.n_layer, r.model.d_model, r.model.n_head, r.model.d_ff,
                          r.model.vocab_size, r.model.seq_len, r.model.tie_embeddings, r.steps, r.lr,
                          r.warmup_steps, r.seed};
    // Other families' shapes (gpt2 runs keep the fingerprint they always had).
    const ModelConfig& m = r.model;
    if (m.family != Family::kGpt2)
      run.push_back({to_string(m.family), m.n_kv_head, m.rope_theta, m.n_experts, m.top_k,
                     m.n_shared_experts, m.capacity_factor, m.aux_loss_coef});
    f["runs"].push_back(run);
  }
  // Each variant's recipe (the job's [train] is above).
  if (job.has_variants()) {
    for (const Variant& v : job.variants)
      f["variants"].push_back({v.name, v.train.min_lr_ratio, v.train.weight_decay, v.train.beta1,
                               v.train.beta2, v.train.grad_clip});
  }
  return f.dump();
}

SweepSetup prepare_sweep(const std::string& job_path, const std::string& output, bool verbose) {
  SweepSetup s;
  s.job = load_job_file(job_path);
  require_corpus(s.job);
  s.grid = expand_grid(s.job);
  for (const DroppedRun& d : s.grid.dropped) {
    if (verbose)
      log_warn("grid: " + d.describe());
  }
  s.output = output.empty() ? s.job.sweep.output : output;

  const DataSection& d = s.job.data;
  CorpusSpec corpus;
  corpus.files = d.files;
  corpus.tokenizer = d.tokenizer == Tokenizer::kBytes       ? TokenizerKind::kBytes
                     : d.tokenizer == Tokenizer::kTokensU16 ? TokenizerKind::kTokenFiles
                                                            : TokenizerKind::kSentencePiece;
  corpus.vocab_size = d.vocab_size;
  corpus.tokenizer_model = d.tokenizer_model;
  corpus.tokenizer_sample_bytes = d.tokenizer_sample_bytes;
  corpus.validation_shards = d.validation == Validation::kShards;
  corpus.validation_fraction = d.validation_fraction;
  corpus.bytes_per_token = d.bytes_per_token;
  corpus.cache_dir = d.cache_dir;
  const PreparedCorpus prepared = prepare_corpus(corpus);
  s.data = std::make_unique<TokenData>(prepared, d.seq_len, d.validation_fraction);
  if (verbose)
    log_info("corpus: " + format_count(double(s.data->size())) + " tokens (" +
             format_count(double(s.data->train_tokens())) + " train, " +
             format_count(double(s.data->validation_tokens())) +
             " validation): " + prepared.description);

  // Random sequence starts see the data again and again past one epoch; a
  // few passes barely matter (Muennighoff et al. 2023), many do.
  double most_epochs = 0;
  std::string most_run;
  for (const RunSpec& run : s.grid.runs) {
    const double epochs = double(run.tokens) / double(s.data->train_tokens());
    if (epochs > most_epochs) {
      most_epochs = epochs;
      most_run = run.run_id;
    }
  }
  if (verbose && most_epochs > 4) {
    char text[200];
    std::snprintf(text, sizeof(text),
                  "%s trains on %.1f epochs of the training split; repeated data lowers what "
                  "extra tokens are worth (use a larger corpus)",
                  most_run.c_str(), most_epochs);
    log_warn(text);
  }

  s.info.sweep_name = s.job.sweep.name;
  s.info.job_path = s.job.path;
  s.info.job_text = s.job.text;
  s.info.sweepd_version = kVersion;
  s.info.flop_convention = to_string(s.job.grid.flop_convention);
  s.info.fingerprint = sweep_fingerprint(s.job, s.grid);
  s.info.bytes_per_token = prepared.bytes_per_token;
  // In the file from its creation, before the first run trains: the record
  // shows the prediction was made before the outcome was known.
  if (s.job.prediction) s.info.prediction = prediction_record(*s.job.prediction);
  for (const RunSpec& r : s.grid.runs) {
    RunInfo info;
    info.run_id = r.run_id;
    info.index = r.index;
    info.budget = r.budget;
    info.target_params = r.target_params;
    info.params_total = r.params.total;
    info.params_non_embedding = r.params.non_embedding;
    info.params_active = r.params.active;
    info.params_active_non_embedding = r.params.active_non_embedding;
    info.variant = s.job.variants[size_t(r.variant)].name;
    info.family = to_string(r.model.family);
    if (r.model.attention() && r.model.family != Family::kGpt2) info.n_kv_head = r.model.kv_heads();
    if (r.model.family == Family::kMoe) {
      info.n_experts = r.model.n_experts;
      info.top_k = r.model.top_k;
    }
    info.n_layer = r.model.n_layer;
    info.d_model = r.model.d_model;
    info.n_head = r.model.n_head;
    info.d_ff = r.model.d_ff;
    info.vocab_size = r.model.vocab_size;
    info.seq_len = r.model.seq_len;
    info.tokens = r.tokens;
    info.steps = r.steps;
    info.batch_tokens = s.job.train.batch_tokens;
    info.warmup_steps = r.warmup_steps;
    info.flops = r.flops;
    info.flops_per_token = r.flops_per_token;
    info.lr = r.lr;  // NaN for a tuned variant's grid run: decided as it starts
    info.role = to_string(r.role);
    info.recipe = r.recipe;
    info.seed = r.seed;
    s.runs.push_back(info);
  }
  return s;
}

}  // namespace sweep
