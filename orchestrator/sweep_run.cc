#include "orchestrator/sweep_run.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/format.h"
#include "common/log.h"
#include "common/table.h"

namespace sweep {

Progress::Progress(size_t runs, double total_flops, double flops_at_start)
    : runs_(runs),
      total_flops_(total_flops),
      flops_at_start_(flops_at_start),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(Clock::now()),
      // A terminal shows the line at once; a log gets its first line after 30 s.
      last_draw_(tty_ ? Clock::time_point() : Clock::now()) {}

void Progress::update(size_t runs_done, double flops_done, const std::string& detail) {
  const auto now = Clock::now();
  if (std::chrono::duration<double>(now - last_draw_).count() < (tty_ ? 0.5 : 30.0)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  // ETA from the FLOP rate of this session (resumed work excluded), once
  // there is enough of it to mean something.
  const double session_flops = flops_done - flops_at_start_;
  const double eta = session_flops > 0 && elapsed >= 20
                         ? elapsed * (total_flops_ - flops_done) / session_flops
                         : NAN;
  char line[320];
  std::snprintf(line, sizeof(line), "runs %zu/%zu | FLOPs %s/%s (%.0f%%) | %s elapsed, ETA %s | %s",
                runs_done, runs_, format_sci(flops_done, 2).c_str(),
                format_sci(total_flops_, 2).c_str(), 100.0 * flops_done / total_flops_,
                format_duration(elapsed).c_str(), format_duration(eta).c_str(), detail.c_str());
  if (tty_)
    set_live_line(line);
  else
    log_info(line);
}

void Progress::finish() {
  set_live_line("");
  if (tty_) std::fputc('\n', stderr);
}

namespace {
void print_final_table(const Grid& grid, const SweepStore& store, double bytes_per_token) {
  // (budget, variant) -> lowest final eval loss: each variant's own best
  // grid run; variant -> the [tune] candidate its grid trained with.
  std::map<std::pair<double, int>, double> best;
  std::map<int, int64_t> chosen;
  for (const RunSpec& run : grid.runs) {
    if (run.is_tune()) continue;
    const int64_t recipe = store.runs()[size_t(run.index)].recipe;
    if (recipe >= 0) chosen[run.variant] = recipe;
    const RunProgress p = store.progress(run.index);
    if (p.state == RunState::kDone && std::isfinite(p.final_eval_loss)) {
      auto [it, fresh] = best.emplace(std::make_pair(run.budget, run.variant), p.final_eval_loss);
      if (!fresh) it->second = std::min(it->second, p.final_eval_loss);
    }
  }
  const bool variants = !grid.runs.empty() && grid.runs.back().variant > 0;
  TextTable table({"run", "budget", "N", "D", "D/N", "eval loss", "bits/byte", "status", ""});
  for (const RunSpec& run : grid.runs) {
    const RunProgress p = store.progress(run.index);
    char loss[32] = "-", bpb[32] = "-", ratio[32];
    if (std::isfinite(p.final_eval_loss)) {
      std::snprintf(loss, sizeof(loss), "%.4f", p.final_eval_loss);
      if (std::isfinite(bytes_per_token)) {
        std::snprintf(bpb, sizeof(bpb), "%.4f",
                      p.final_eval_loss / std::log(2.0) / bytes_per_token);
      }
    }
    std::snprintf(ratio, sizeof(ratio), "%.3g", run.tokens_per_param());
    const auto key = std::make_pair(run.budget, run.variant);
    const bool is_best = !run.is_tune() && p.state == RunState::kDone && best.count(key) &&
                         p.final_eval_loss == best[key];
    const auto choice = chosen.find(run.variant);
    const char* note = is_best ? (variants ? "<- variant's best at this budget"
                                           : "<- best at this budget")
                       : !run.is_tune() ? ""
                       : choice != chosen.end() && choice->second == run.recipe
                           ? "tuning: the recipe chosen"
                           : "tuning";
    table.add_row({run.run_id, run.budget > 0 ? format_sci(run.budget) : "-",
                   format_count(double(run.law_params())), format_count(double(run.tokens)), ratio,
                   loss, bpb, to_string(p.state), note});
  }
  std::cout << "\nfinal validation loss (nats per token) by budget and size\n";
  table.print(std::cout);
}

void print_final_json(const Grid& grid, const SweepStore& store, const std::string& output) {
  nlohmann::json out;
  out["output"] = output;
  out["runs"] = nlohmann::json::array();
  for (const RunSpec& run : grid.runs) {
    const RunProgress p = store.progress(run.index);
    auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
    out["runs"].push_back({{"run_id", run.run_id},
                           {"role", to_string(run.role)},
                           {"recipe", store.runs()[size_t(run.index)].recipe},
                           {"lr", number(store.runs()[size_t(run.index)].lr)},
                           {"budget", run.budget},
                           {"params_total", run.params.total},
                           {"params_non_embedding", run.params.non_embedding},
                           {"params_active", run.params.active},
                           {"tokens", run.tokens},
                           {"flops", run.flops},
                           {"status", to_string(p.state)},
                           {"reason", p.reason},
                           {"attempts", p.attempts},
                           {"final_eval_loss", number(p.final_eval_loss)},
                           {"final_train_loss", number(p.final_train_loss)},
                           {"wall_seconds", p.wall_seconds}});
  }
  std::cout << out.dump(2) << "\n";
}

}  // namespace

void print_results(const Grid& grid, const SweepStore& store, const SweepSetup& setup, bool json) {
  if (json) {
    print_final_json(grid, store, setup.output);
  } else {
    print_final_table(grid, store, setup.info.bytes_per_token);
    std::cout << "\nwrote " << setup.output << "\n";
  }
}

}  // namespace sweep
