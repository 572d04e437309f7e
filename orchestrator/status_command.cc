// `sweepd status FILE.h5`: where a sweep stands, read from its HDF5 file
// (while it runs, too: the file is opened as an SWMR reader).

#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/format.h"
#include "common/table.h"
#include "orchestrator/commands.h"
#include "storage/store.h"

namespace sweep {

int status_command(const StatusOptions& options) {
  const SweepStore store = SweepStore::open_read_only(options.path);
  std::map<RunState, int> counts;
  double total_flops = 0, flops_done = 0, done_flops = 0, done_seconds = 0;
  // (budget, variant) -> (loss, run): each variant's best of each budget.
  std::map<std::pair<double, std::string>, std::pair<double, std::string>> best;
  std::map<std::string, std::map<RunState, int>> by_variant;  // runs in a job with variants
  struct Row {
    const RunInfo* run;
    RunProgress progress;
    double flops_done;
  };
  std::vector<Row> rows;
  std::map<RunState, int> tuning;           // the tune runs' states
  std::map<std::string, int64_t> chosen;    // variant -> the candidate its grid trains with
  for (const RunInfo& run : store.runs()) {
    const RunProgress p = store.progress(run.index);
    ++counts[p.state];
    if (!run.variant.empty()) ++by_variant[run.variant][p.state];
    if (run.role == "tune") ++tuning[p.state];
    if (run.role != "tune" && run.recipe >= 0) chosen[run.variant] = run.recipe;
    total_flops += run.flops;
    double partial = 0;
    if (p.state == RunState::kDone || p.state == RunState::kDiverged) {
      partial = run.flops;
      if (p.state == RunState::kDone) {
        done_flops += run.flops;
        done_seconds += p.wall_seconds;
      }
      if (p.state == RunState::kDone && run.role != "tune") {
        const auto key = std::make_pair(run.budget, run.variant);
        auto it = best.find(key);
        if (it == best.end() || p.final_eval_loss < it->second.first) {
          best[key] = {p.final_eval_loss, run.run_id};
        }
      }
    } else {
      const auto train = store.train_curve(run.index);
      if (!train.empty()) partial = train.back().flops;
    }
    flops_done += partial;
    rows.push_back({&run, p, partial});
  }
  // ETA: the FLOP rate of one slot so far (finished runs), times the slots busy now.
  const int running = counts[RunState::kRunning];
  const double slot_rate = done_seconds > 0 ? done_flops / done_seconds : NAN;
  const double eta = (total_flops - flops_done) / (slot_rate * std::max(1, running));

  if (options.json) {
    nlohmann::json out;
    out["file"] = options.path;
    out["sweep"] = store.info().sweep_name;
    for (RunState s : {RunState::kPending, RunState::kRunning, RunState::kDone, RunState::kDiverged,
                       RunState::kFailed}) {
      out["runs"][to_string(s)] = counts[s];
    }
    out["flops_total"] = total_flops;
    out["flops_done"] = flops_done;
    out["eta_seconds"] = std::isfinite(eta) ? nlohmann::json(eta) : nlohmann::json();
    for (const auto& [name, states] : by_variant) {
      for (RunState s : {RunState::kPending, RunState::kRunning, RunState::kDone,
                         RunState::kDiverged, RunState::kFailed}) {
        const auto it = states.find(s);
        out["variants"][name][to_string(s)] = it == states.end() ? 0 : it->second;
      }
    }
    if (!tuning.empty()) {
      for (RunState s : {RunState::kPending, RunState::kRunning, RunState::kDone,
                         RunState::kDiverged, RunState::kFailed})
        out["tuning"][to_string(s)] = tuning[s];
      for (const RunInfo& run : store.runs()) {
        const auto it = chosen.find(run.variant);
        if (run.role == "tune" && it != chosen.end() && it->second == run.recipe)
          out["tuning"]["chosen"][run.variant].push_back(run.run_id);
      }
    }
    out["best_per_budget"] = nlohmann::json::array();
    for (const auto& [key, b] : best) {
      nlohmann::json row = {{"budget", key.first}, {"run_id", b.second}, {"final_eval_loss", b.first}};
      if (!key.second.empty()) row["variant"] = key.second;
      out["best_per_budget"].push_back(row);
    }
    for (const Row& r : rows) {
      if (r.progress.state == RunState::kFailed || r.progress.state == RunState::kDiverged) {
        out["problems"].push_back({{"run_id", r.run->run_id},
                                   {"status", to_string(r.progress.state)},
                                   {"reason", r.progress.reason},
                                   {"attempts", r.progress.attempts}});
      }
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%s (%s): %zu runs: %d done, %d running, %d pending, %d diverged, %d failed\n",
              options.path.c_str(), store.info().sweep_name.c_str(), rows.size(),
              counts[RunState::kDone], running, counts[RunState::kPending],
              counts[RunState::kDiverged], counts[RunState::kFailed]);
  std::printf("FLOPs %s of %s (%.0f%%), ETA %s\n", format_sci(flops_done).c_str(),
              format_sci(total_flops).c_str(), 100.0 * flops_done / total_flops,
              format_duration(eta).c_str());
  for (const auto& [name, states] : by_variant) {
    auto count = [&](RunState s) {
      const auto it = states.find(s);
      return it == states.end() ? 0 : it->second;
    };
    std::printf("  variant %s: %d done, %d running, %d pending, %d diverged, %d failed\n",
                name.c_str(), count(RunState::kDone), count(RunState::kRunning),
                count(RunState::kPending), count(RunState::kDiverged), count(RunState::kFailed));
  }
  if (!tuning.empty()) {
    std::printf("  tuning: %d done, %d running, %d pending, %d diverged, %d failed\n",
                tuning[RunState::kDone], tuning[RunState::kRunning], tuning[RunState::kPending],
                tuning[RunState::kDiverged], tuning[RunState::kFailed]);
    for (const RunInfo& run : store.runs()) {
      const auto it = chosen.find(run.variant);
      if (run.role == "tune" && it != chosen.end() && it->second == run.recipe)
        std::printf("    chosen%s: %s\n",
                    run.variant.empty() ? "" : (" for " + run.variant).c_str(),
                    run.run_id.c_str());
    }
  }
  if (!best.empty()) {
    std::printf("\nbest so far per budget%s (final validation loss, nats per token)\n",
                by_variant.empty() ? "" : " and variant");
    TextTable table({"budget", "run", "loss"});
    for (const auto& [key, b] : best) {
      char loss[32];
      std::snprintf(loss, sizeof(loss), "%.4f", b.first);
      table.add_row({format_sci(key.first), b.second, loss});
    }
    table.print(std::cout);
  }
  bool header = false;
  for (const Row& r : rows) {
    if (r.progress.state == RunState::kRunning) {
      if (!header) std::printf("\nrunning\n");
      header = true;
      std::printf("  %s  %.0f%%\n", r.run->run_id.c_str(), 100.0 * r.flops_done / r.run->flops);
    }
  }
  for (const Row& r : rows) {
    if (r.progress.state == RunState::kFailed || r.progress.state == RunState::kDiverged) {
      std::printf("  %s %s after %lld attempt%s: %s\n", r.run->run_id.c_str(),
                  to_string(r.progress.state), (long long)r.progress.attempts,
                  r.progress.attempts == 1 ? "" : "s", r.progress.reason.c_str());
    }
  }
  return 0;
}

}  // namespace sweep
