// libFuzzer harness: a job file as `sweepd check` reads it.
//
// The input is the text of a TOML job file. It is parsed and validated
// (parse_job_text) and its grid expanded (expand_grid), as `sweepd check`
// does, but without require_corpus(): the harness looks at no corpus file.
// A job that is accepted must expand to runs that can train: at least
// grid.min_steps steps, positive parameter counts, tokens = steps x batch and
// finite positive FLOPs and learning rates (a tuned variant's grid run: from
// every candidate recipe); anything else is a finding too.
// parse_job_text still globs data.corpus (reads directories, opens no file);
// scripts/fuzz runs the harness in its own work directory. A UserError is the
// expected answer to a bad job; see fuzz_input.h for what is a finding.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "fuzz/fuzz_input.h"
#include "spec/grid.h"
#include "spec/job_spec.h"

namespace {

void require_trainable(const sweep::JobSpec& job, const sweep::RunSpec& run) {
  // A tuned variant's grid run learns its lr from a candidate as it starts:
  // every candidate must give one.
  bool lr_ok = std::isfinite(run.lr) && run.lr > 0;
  const sweep::Variant& variant = job.variants[size_t(run.variant)];
  if (run.recipe_at_start() && variant.tuned()) {
    lr_ok = true;
    for (size_t c = 0; c < variant.candidates.size(); ++c) {
      const double lr = sweep::peak_lr(sweep::run_recipe(job, run, int(c)), run.model);
      lr_ok = lr_ok && std::isfinite(lr) && lr > 0;
    }
  }
  const bool ok = run.steps >= job.grid.min_steps &&
                  run.tokens == run.steps * job.train.batch_tokens && run.params.total > 0 &&
                  run.params.non_embedding > 0 && std::isfinite(run.flops) && run.flops > 0 &&
                  lr_ok && run.model.n_head > 0 &&
                  run.model.d_model % run.model.n_head == 0;
  if (ok) return;
  std::fprintf(stderr,
               "fuzz_job_spec: accepted a run that cannot train: %s steps %lld tokens %lld "
               "params %lld flops %g lr %g d_model %lld n_head %lld\n",
               run.run_id.c_str(), (long long)run.steps, (long long)run.tokens,
               (long long)run.params.total, run.flops, run.lr, (long long)run.model.d_model,
               (long long)run.model.n_head);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const sweep::JobSpec job = sweep::parse_job_text(text, "fuzz.toml");
    const sweep::Grid grid = sweep::expand_grid(job);
    for (const sweep::RunSpec& run : grid.runs) require_trainable(job, run);
    volatile double total = grid.total_flops();  // as check prints it
    (void)total;
    sweep::fuzz::note_accepted("job: " + std::to_string(grid.runs.size()) + " runs");
  } catch (const sweep::UserError& e) {
    sweep::fuzz::note_refused(e);
  }
  return 0;
}
