#include "spec/memory_plan.h"

#include <algorithm>
#include <vector>


namespace sweep {

MemoryOptions memory_options(const JobSpec& job, const RunSpec& run, int64_t ranks, bool cuda) {
  MemoryOptions o;
  o.ranks = ranks;
  o.micro_batch_sequences = micro_batch_sequences(job.train.batch_tokens,
                                                  job.train.micro_batch_tokens,
                                                  run.model.seq_len, ranks);
  o.activation_checkpointing = job.train.activation_checkpointing;
  o.cuda = cuda;
  return o;
}

namespace {

MemoryChoice choose(const ModelConfig& model, MemoryOptions o, std::optional<Sharding> asked,
                    double limit) {
  const std::vector<Sharding> stages =
      asked ? std::vector<Sharding>{*asked}
            : std::vector<Sharding>{Sharding::kNone, Sharding::kOptimizer, Sharding::kGradients,
                                    Sharding::kParameters};
  MemoryChoice c;
  for (Sharding s : stages) {
    o.sharding = s;
    c.sharding = s;
    c.estimate = estimate_memory(model, o);
    c.fits = limit <= 0 || c.estimate.total() <= limit;
    if (c.fits) return c;
  }
  return c;  // the most sharded tried, not fitting
}

}  // namespace

MemoryChoice choose_sharding(const JobSpec& job, const RunSpec& run, int64_t ranks,
                             double memory_per_rank, bool cuda) {
  return choose(run.model, memory_options(job, run, ranks, cuda), job.resources.sharding,
                memory_per_rank);
}

int64_t fewest_ranks_that_fit(const JobSpec& job, const RunSpec& run, int64_t max_ranks,
                              double memory_per_rank, bool cuda) {
  const int64_t sequences = job.train.batch_tokens / run.model.seq_len;
  for (int64_t k = 1; k <= max_ranks; k *= 2) {
    if (sequences % k != 0) break;  // a slot must split the batch evenly
    if (choose_sharding(job, run, k, memory_per_rank, cuda).fits) return k;
  }
  return 0;
}

int64_t ranks_needed(const JobSpec& job, const RunSpec& run, double memory_per_rank, bool cuda) {
  const int64_t sequences = job.train.batch_tokens / run.model.seq_len;
  const int64_t fits = fewest_ranks_that_fit(job, run, sequences, memory_per_rank, cuda);
  if (fits == 0) return 0;
  return std::max(fits, job.resources.ranks_needed(run.params.total));
}

std::string how_to_fit(const JobSpec& job, const RunSpec& run, int64_t ranks,
                       double memory_per_rank, bool cuda) {
  std::vector<std::string> ways;
  const int64_t sequences = job.train.batch_tokens / run.model.seq_len;
  if (const int64_t k = fewest_ranks_that_fit(job, run, sequences, memory_per_rank, cuda); k > 0)
    ways.push_back("a slot of " + std::to_string(k) + " ranks");
  MemoryOptions o = memory_options(job, run, ranks, cuda);
  if (!o.activation_checkpointing) {
    MemoryOptions with = o;
    with.activation_checkpointing = true;
    if (choose(run.model, with, job.resources.sharding, memory_per_rank).fits)
      ways.push_back("train.activation_checkpointing = true");
  }
  if (o.micro_batch_sequences > 1) {
    MemoryOptions smaller = o;
    smaller.micro_batch_sequences = 1;
    if (choose(run.model, smaller, job.resources.sharding, memory_per_rank).fits)
      ways.push_back("train.micro_batch_tokens = " + std::to_string(run.model.seq_len) +
                     " (one sequence)");
  }
  if (job.resources.sharding && *job.resources.sharding != Sharding::kParameters &&
      choose(run.model, o, Sharding::kParameters, memory_per_rank).fits)
    ways.push_back("resources.sharding = \"parameters\"");
  if (ways.empty()) return "no slot size, sharding or micro-batch tried makes it fit";
  std::string out = "it would fit with ";
  for (size_t i = 0; i < ways.size(); ++i) out += (i ? ", or " : "") + ways[i];
  return out;
}

}  // namespace sweep
