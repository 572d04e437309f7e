// bench/fit: the cost of Chinchilla approach 3 (fit/parametric_fit.h) and of
// the whole fit stage with its bootstrap (fit/analysis.h), on one data set.
//
// Measures, in one process:
//   * one objective + gradient evaluation (µs), the unit both optimisers pay;
//   * fit_parametric over the initialisation grid on 1 thread (the number
//     bench/fit sets against SciPy's L-BFGS-B, which runs on one core) and on
//     every hardware thread;
//   * fit::analyze with 1000 bootstrap replicates (approaches 2 and 3, and 1
//     when the data has training curves), default options: the full grid once,
//     then each replicate warm-started from the full fit's best optima; and
//     the same without the bootstrap, to show the replicates' share.
//
// The data are the quickstart sweep's finished runs (runs/quickstart.h5) when
// that file exists, else a synthetic IsoFLOP sweep: 5 budgets × 7 sizes from
// Chinchilla's fitted law (Hoffmann et al. 2022, §3.3) with 1% log-normal
// noise and a fixed seed. The points fitted are written to --csv
// (params,tokens,loss at full double precision) so that bench/fit_scipy.py
// fits exactly the same numbers.
//
// Prints a table, then one JSON line (the last line of stdout) for bench/fit.
//
//   bench_fit [--data runs/quickstart.h5 | --synthetic] [--csv points.csv]
//             [--starts-every 1] [--bootstrap 1000] [--repeats 3] [--threads 0]

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fit/analysis.h"
#include "fit/fit_data.h"
#include "fit/parametric_fit.h"
#include "orchestrator/sweep_fit_data.h"  // reading a sweep file (links sweep_orchestrator)

using namespace sweep;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Chinchilla's law, L = E + A/N^α + B/D^β (N total parameters, D tokens, nats).
constexpr fit::ParametricLaw kChinchilla = {/*E=*/1.69337, /*A=*/406.401, /*B=*/410.723,
                                            /*alpha=*/0.33917, /*beta=*/0.28491};

// 5 budgets × 7 sizes, C = 6·N·D; sizes are log-spaced over ×/÷ 4 around the
// law's own compute-optimal N, so every profile has its minimum inside.
fit::FitData synthetic_sweep(uint64_t seed) {
  fit::FitData data;
  data.source = "synthetic (Chinchilla's law, 1% log-normal noise)";
  data.budgets = {1e18, 3e18, 1e19, 3e19, 1e20};  // FLOPs
  std::mt19937_64 random(seed);
  std::normal_distribution<double> noise(0.0, 0.01);  // in ln L
  for (double budget : data.budgets) {
    const double center = kChinchilla.optimal_params(budget, data.flops_per_param_token);
    for (int i = -3; i <= 3; ++i) {
      fit::Observation run;
      run.run_id = "C" + std::to_string(budget) + "/" + std::to_string(i);
      run.params = center * std::pow(4.0, i / 3.0);
      run.tokens = budget / (data.flops_per_param_token * run.params);
      run.flops = budget;
      run.budget = budget;
      run.loss = kChinchilla.loss(run.params, run.tokens) * std::exp(noise(random));
      data.points.push_back(run);
    }
  }
  return data;
}

std::vector<fit::StartPoint> every_kth_start(int k) {
  std::vector<fit::StartPoint> starts;
  const std::vector<fit::StartPoint> grid = fit::chinchilla_start_grid();
  for (size_t i = 0; i < grid.size(); i += static_cast<size_t>(k)) starts.push_back(grid[i]);
  return starts;
}

nlohmann::json point_json(const fit::StartPoint& x) {
  return {{"alpha", x.alpha}, {"beta", x.beta}, {"e", x.e}, {"a", x.a}, {"b", x.b}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_path = "runs/quickstart.h5", csv_path;
  bool synthetic = false, data_given = false;
  int starts_every = 1, repeats = 3, threads = 0;
  int64_t bootstrap = 1000;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--synthetic") {
      synthetic = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << flag << ": missing value\n";
      return 2;
    }
    const std::string value = argv[++i];
    if (flag == "--data") {
      data_path = value;
      data_given = true;
    } else if (flag == "--csv") {
      csv_path = value;
    } else if (flag == "--starts-every") {
      starts_every = std::max(1, std::stoi(value));
    } else if (flag == "--bootstrap") {
      bootstrap = std::stoll(value);
    } else if (flag == "--repeats") {
      repeats = std::max(1, std::stoi(value));
    } else if (flag == "--threads") {
      threads = std::stoi(value);
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  const int all_threads =
      threads > 0 ? threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));

  // ---- the data -------------------------------------------------------------
  // The default file may be absent (no quickstart run yet): then synthetic.
  // A file named with --data must be there.
  fit::FitData data;
  if (!synthetic && (data_given || std::ifstream(data_path).good())) {
    try {
      data = sweep::load_fit_data(data_path, fit::InputOptions{});  // a table or a sweep file
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
      return 2;
    }
  } else {
    data = synthetic_sweep(/*seed=*/20220329);
    synthetic = true;
  }
  std::vector<double> params, tokens, loss;
  for (const fit::Observation& run : data.points) {
    params.push_back(run.params);
    tokens.push_back(run.tokens);
    loss.push_back(run.loss);
  }
  if (!csv_path.empty()) {
    std::ofstream csv(csv_path);
    csv << "params,tokens,loss\n";
    char line[128];
    for (size_t i = 0; i < loss.size(); ++i) {
      std::snprintf(line, sizeof line, "%.17g,%.17g,%.17g\n", params[i], tokens[i], loss[i]);
      csv << line;
    }
    if (!csv) {
      std::cerr << csv_path << ": cannot write\n";
      return 1;
    }
  }

  fit::ParametricFitOptions options;  // the defaults fit::analyze uses
  options.starts = every_kth_start(starts_every);
  const size_t start_count = options.starts.size();

  // ---- one objective + gradient evaluation -----------------------------------
  fit::HuberLogLossObjective objective;
  for (size_t i = 0; i < loss.size(); ++i) {
    objective.log_params.push_back(std::log(params[i]));
    objective.log_tokens.push_back(std::log(tokens[i]));
    objective.log_loss.push_back(std::log(loss[i]));
  }
  objective.delta = options.huber_delta;
  const double x0[5] = {0.5, 0.5, 0.5, 5, 5};
  double gradient[5], sink = 0;
  const int evaluations = 200000;
  auto start = Clock::now();
  for (int i = 0; i < evaluations; ++i) sink += objective.evaluate(x0, gradient) + gradient[0];
  const double evaluation_us = seconds_since(start) / evaluations * 1e6;
  volatile double keep = sink;  // the evaluations must not be optimised away
  (void)keep;

  // ---- the grid fit: 1 thread, then all threads ------------------------------
  // Wall time is the result; process CPU time is a check on a shared machine
  // (on one thread it should equal the wall time when nothing else runs).
  auto time_fit = [&](int fit_threads, fit::ParametricFit* out, double* cpu_seconds) {
    std::vector<double> times, cpu_times;
    for (int r = 0; r < repeats; ++r) {
      fit::ParametricFitOptions o = options;
      o.threads = fit_threads;
      const std::clock_t c0 = std::clock();
      const auto t0 = Clock::now();
      *out = fit::fit_parametric(params, tokens, loss, o);
      times.push_back(seconds_since(t0));
      cpu_times.push_back(static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
    }
    *cpu_seconds = median(cpu_times);
    return median(times);
  };
  fit::ParametricFit fit1, fit_all;
  double grid_1_thread_cpu = 0, grid_all_threads_cpu = 0;
  const double grid_1_thread = time_fit(1, &fit1, &grid_1_thread_cpu);
  const double grid_all_threads = time_fit(all_threads, &fit_all, &grid_all_threads_cpu);

  // ---- analyze: full grid + bootstrap ----------------------------------------
  fit::AnalysisOptions analysis_options;
  analysis_options.approaches =
      data.curves.empty() ? std::vector<int>{2, 3} : std::vector<int>{1, 2, 3};
  analysis_options.bootstrap = bootstrap;
  analysis_options.holdout_budgets = 0;  // the bootstrap's cost, not the backtest's
  analysis_options.threads = threads;
  analysis_options.parametric.starts = options.starts;
  // Without the bootstrap first: the full data's fits alone (the grid's share).
  fit::AnalysisOptions no_bootstrap = analysis_options;
  no_bootstrap.bootstrap = 0;
  fit::Analysis analysis;
  double analyze_no_bootstrap_seconds = 0, analyze_seconds = 0;
  try {
    start = Clock::now();
    fit::analyze(data, no_bootstrap);
    analyze_no_bootstrap_seconds = seconds_since(start);
    start = Clock::now();
    analysis = fit::analyze(data, analysis_options);
    analyze_seconds = seconds_since(start);
  } catch (const std::exception& e) {  // data that cannot support a fit
    std::cerr << e.what() << "\n";
    return 2;
  }
  const fit::Quantity* alpha = analysis.find("a3.alpha");
  const fit::Quantity* beta = analysis.find("a3.beta");
  int64_t a3_failures = 0;
  if (auto it = analysis.replicate_failures.find("approach 3");
      it != analysis.replicate_failures.end())
    a3_failures = it->second;

  // ---- report ----------------------------------------------------------------
  if (fit1.optima.empty()) {
    std::cerr << "approach 3: no start gave a finite objective\n";
    return 1;
  }
  const fit::ParametricLaw& law = fit1.law;
  const fit::StartPoint& best = fit1.optima.front();
  std::string approaches;
  for (int a : analysis_options.approaches)
    approaches += (approaches.empty() ? "" : ",") + std::to_string(a);
  std::printf("data: %s, %zu runs in %zu budgets%s\n", data.source.c_str(), loss.size(),
              data.budgets.size(), data.curves.empty() ? "" : " (with training curves)");
  std::printf("grid: %zu starts (every %d of Chinchilla's 4,500); Ceres L-BFGS, median of %d\n\n",
              start_count, starts_every, repeats);
  std::printf("%-52s %10s %12s\n", "what", "seconds", "CPU seconds");
  std::printf("%-52s %10.2f\n", "one objective + gradient (µs)", evaluation_us);
  std::printf("%-52s %10.3f %12.3f\n", "fit_parametric, grid, 1 thread", grid_1_thread,
              grid_1_thread_cpu);
  char label[96];
  std::snprintf(label, sizeof label, "fit_parametric, grid, %d threads", all_threads);
  std::printf("%-52s %10.3f %12.3f   (x%.2f faster)\n", label, grid_all_threads,
              grid_all_threads_cpu, grid_1_thread / grid_all_threads);
  std::snprintf(label, sizeof label, "analyze, approaches %s, no bootstrap, %d threads",
                approaches.c_str(), all_threads);
  std::printf("%-52s %10.3f\n", label, analyze_no_bootstrap_seconds);
  std::snprintf(label, sizeof label, "analyze, approaches %s, %lld bootstrap, %d threads",
                approaches.c_str(), static_cast<long long>(bootstrap), all_threads);
  std::printf("%-52s %10.3f\n\n", label, analyze_seconds);
  std::printf("best objective %.10g; %d of %d starts converged\n", fit1.objective, fit1.converged,
              fit1.starts);
  std::printf("alpha %.6f  beta %.6f  E %.6f  A %.6g  B %.6g  (a = ln A %.6f, b = ln B %.6f)\n",
              law.alpha, law.beta, law.E, law.A, law.B, best.a, best.b);
  if (alpha && beta)
    std::printf(
        "bootstrap 90%% intervals: alpha [%.4f, %.4f], beta [%.4f, %.4f]; "
        "approach 3 failed in %lld of %lld replicates\n",
        alpha->lo, alpha->hi, beta->lo, beta->hi, static_cast<long long>(a3_failures),
        static_cast<long long>(analysis.replicates_done));
  for (const std::string& warning : analysis.warnings)
    std::printf("warning: %s\n", warning.c_str());

  nlohmann::json out = {
      {"data", data.source},
      {"synthetic", synthetic},
      {"runs", loss.size()},
      {"budgets", data.budgets.size()},
      {"starts", start_count},
      {"starts_every", starts_every},
      {"repeats", repeats},
      {"threads", all_threads},
      {"evaluation_us", evaluation_us},
      {"grid_seconds_1_thread", grid_1_thread},
      {"grid_seconds_all_threads", grid_all_threads},
      {"grid_cpu_seconds_1_thread", grid_1_thread_cpu},
      {"grid_cpu_seconds_all_threads", grid_all_threads_cpu},
      {"analyze_seconds", analyze_seconds},
      {"analyze_no_bootstrap_seconds", analyze_no_bootstrap_seconds},
      {"analyze_approaches", analysis_options.approaches},
      {"bootstrap", bootstrap},
      {"replicates_done", analysis.replicates_done},
      {"a3_replicate_failures", a3_failures},
      {"objective", fit1.objective},
      {"objective_all_threads", fit_all.objective},
      {"converged", fit1.converged},
      {"x", point_json(best)},
      {"law", {{"E", law.E}, {"A", law.A}, {"B", law.B}, {"alpha", law.alpha}, {"beta", law.beta}}},
  };
  std::cout << out.dump() << std::endl;
  return 0;
}
