#pragma once
// Chinchilla approach 3: L(N, D) = E + A/N^α + B/D^β fitted to every run.
//
// As in Hoffmann et al. (2022, §3.3 and App. D.2): minimise the *sum* over runs
// of Huber_δ(LSE(a − α·ln N, b − β·ln D, e) − ln L) with δ = 1e-3, where
// A = e^a, B = e^b, E = e^e and LSE is log-sum-exp, by L-BFGS from every point
// of the initialisation grid α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1},
// a, b ∈ {0, 5, …, 25} (5·5·5·6·6 = 4,500 starts), keeping the best. The sum, not the mean:
// with δ = 1e-3 the mean makes gradients so small that L-BFGS stops at once.
// L-BFGS is Ceres' GradientProblemSolver with an analytic gradient.

#include <string>
#include <vector>

#include "fit/laws.h"

namespace sweep::fit {

// (α, β, e, a, b) start points; the default is Chinchilla's grid.
struct StartPoint {
  double alpha, beta, e, a, b;
};
std::vector<StartPoint> chinchilla_start_grid();

struct ParametricFitOptions {
  double huber_delta = 1e-3;          // in ln L
  int max_iterations = 1000;          // L-BFGS iterations per start
  std::vector<StartPoint> starts;     // empty = chinchilla_start_grid()
  int keep_optima = 5;                // distinct best optima to return (warm starts)
  double gradient_tolerance = 1e-14;  // see docs/fit.md
  double function_tolerance = 1e-12;
  double parameter_tolerance = 1e-10;
  int threads = 1;  // starts solved in parallel; 0 = hardware threads
};

struct ParametricFit {
  ParametricLaw law;               // the best start's result
  double objective = 0;            // sum of Huber residuals at the optimum
  int starts = 0;                  // starts tried
  int converged = 0;               // starts whose L-BFGS reported convergence
  std::vector<StartPoint> optima;  // best distinct optima, best first
};

// The objective for one data set; exposed for tests and bench/fit.
struct HuberLogLossObjective {
  std::vector<double> log_params, log_tokens, log_loss;
  double delta = 1e-3;
  // x = (α, β, e, a, b). Returns the objective; fills `gradient` when non-null.
  double evaluate(const double* x, double* gradient) const;
};

ParametricFit fit_parametric(const std::vector<double>& params, const std::vector<double>& tokens,
                             const std::vector<double>& loss, const ParametricFitOptions& options);

ParametricLaw law_of(const StartPoint& x);

}  // namespace sweep::fit
