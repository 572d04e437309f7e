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
//
// The result carries its own verdict, as a Ceres Summary does: the best
// start's termination and message, how many starts converged, and usable().
// An unusable optimum (the best start failed, the law is not finite, or α or
// β is not above 0.001, so the loss would not fall with N or D) is reported
// with its reason and never printed or projected as a law: code that does
// either asks usable() first. Fewer than kFewConvergedShare of the starts
// converging is a warning (few_converged()), not a refusal: on sweeps that
// fit well nearly all 4,500 starts converge (4,498 to 4,500 on the synthetic
// sweeps of tests/test_parametric_fit.cc).

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

// How the best start's L-BFGS ended (Ceres' TerminationType, in short).
enum class Termination {
  kConvergence,    // a tolerance was met
  kNoConvergence,  // the iteration limit: the point is usable but not a proven minimum
  kFailure,        // the solver failed, or no start gave a finite objective
};
const char* to_string(Termination termination);  // "CONVERGENCE", ...

// A warning below this share of converged starts (see above).
constexpr double kFewConvergedShare = 0.5;
// α and β at or below this are "no trend": the runs do not pin the law down.
constexpr double kMinExponent = 1e-3;

struct ParametricFit {
  ParametricLaw law;                                // the best start's result
  double objective = 0;                             // sum of Huber residuals at the optimum
  int starts = 0;                                   // starts tried
  int converged = 0;                                // starts whose L-BFGS reported convergence
  Termination termination = Termination::kFailure;  // the best start's
  std::string message;                              // Ceres' message for the best start
  std::vector<StartPoint> optima;                   // best distinct optima, best first

  // "" when the optimum can be used as a law, else why not.
  std::string why_unusable() const;
  bool usable() const { return why_unusable().empty(); }
  bool few_converged() const { return converged < kFewConvergedShare * starts; }
  // One line: "CONVERGENCE; 4,500 of 4,500 starts converged; objective 1.2e-04".
  std::string brief_report() const;
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
