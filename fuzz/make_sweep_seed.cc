// Writes the HDF5 seeds of fuzz_sweep_file into a directory:
//   sweep.h5            a small real sweep file (3 runs: done with 4 train and
//                       4 eval rows, failed, running; 2 attempts; about 50 KB)
//   sweep-truncated.h5  its first half
//   sweep-bitflip.h5    a copy with one bit flipped every 211 bytes
// Usage: fuzz_make_sweep_seed DIR. The files are deterministic except for the
// "created" attribute's timestamp. scripts/fuzz does not run this; the seeds
// are kept in the repository (fuzz/corpus/sweep_file/).

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "storage/store.h"

namespace {

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

sweep::RunInfo run(int64_t index, const std::string& id, double budget, int64_t d_model) {
  sweep::RunInfo r;
  r.run_id = id;
  r.index = index;
  r.budget = budget;
  r.target_params = 12.0 * 2 * d_model * d_model;
  r.n_layer = 2;
  r.d_model = d_model;
  r.n_head = 2;
  r.d_ff = 4 * d_model;
  r.vocab_size = 256;
  r.seq_len = 32;
  r.params_total = int64_t(r.target_params) + 256 * d_model;
  r.params_non_embedding = int64_t(r.target_params);
  r.batch_tokens = 512;
  r.steps = 40;
  r.tokens = r.steps * r.batch_tokens;
  r.flops_per_token = 6.0 * double(r.params_total);
  r.flops = r.flops_per_token * double(r.tokens);
  r.lr = 1e-3;
  r.warmup_steps = 2;
  r.seed = 1234 + uint64_t(index);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "sweep.h5").string();
  std::filesystem::remove(path);

  sweep::SweepInfo info;
  info.sweep_name = "seed";
  info.job_path = "jobs/seed.toml";
  info.job_text = "[data]\ncorpus = \"corpus.txt\"\n[grid]\nbudgets = [1e9]\n";
  info.sweepd_version = "fuzz-seed";
  info.flop_convention = "6N";
  info.fingerprint = "seed";
  const std::vector<sweep::RunInfo> runs = {
      run(0, "C1e9-N8K", 1e9, 16), run(1, "C1e9-N20K", 1e9, 24), run(2, "C1e9-N33K", 1e9, 32)};
  {
    sweep::SweepStore store = sweep::SweepStore::open(path, info, runs);
    store.start_writing();
    for (int64_t step = 10; step <= 40; step += 10) {
      const int64_t tokens = step * 512;
      const double flops = runs[0].flops_per_token * double(tokens);
      store.append_train(
          0, {step, tokens, flops, 5.5 - 0.05 * double(step), 1e-3, 0.8, 0.1 * double(step)});
      store.append_eval(0, {step, tokens, flops, 5.6 - 0.05 * double(step), 0.1 * double(step)});
    }
    sweep::RunProgress done;
    done.state = sweep::RunState::kDone;
    done.steps_done = 40;
    done.final_eval_loss = 3.6;
    done.final_train_loss = 3.5;
    done.wall_seconds = 4;
    done.tokens_per_second = 5120;
    done.attempts = 1;
    store.set_progress(0, done);
    sweep::RunProgress failed;
    failed.state = sweep::RunState::kFailed;
    failed.reason = "loss is NaN at step 3";
    failed.attempts = 1;
    store.set_progress(1, failed);
    store.append_attempt({/*run=*/0, /*attempt=*/1, sweep::RunOutcome::kDone, /*start_step=*/0,
                          /*end_step=*/40, /*wall_seconds=*/4, "", "2026-01-01T00:00:00Z"});
    store.append_attempt({/*run=*/1, /*attempt=*/1, sweep::RunOutcome::kFailed, /*start_step=*/0,
                          /*end_step=*/3, /*wall_seconds=*/0.5, failed.reason,
                          "2026-01-01T00:00:01Z"});
    sweep::RunProgress running;
    running.state = sweep::RunState::kRunning;
    running.steps_done = 10;
    store.set_progress(2, running);
    store.flush();
  }
  std::filesystem::remove(path + ".lock");

  const std::vector<char> bytes = read_bytes(path);
  write_bytes((dir / "sweep-truncated.h5").string(),
              std::vector<char>(bytes.begin(), bytes.begin() + long(bytes.size() / 2)));
  std::vector<char> flipped = bytes;
  for (size_t i = 97; i < flipped.size(); i += 211) flipped[i] = char(flipped[i] ^ (1 << (i % 8)));
  write_bytes((dir / "sweep-bitflip.h5").string(), flipped);
  std::printf("%s: %zu bytes (+ truncated, bit-flipped copies)\n", path.c_str(), bytes.size());
  return 0;
}
