#include "fit/parametric_fit.h"

#include <ceres/ceres.h>
#include <glog/logging.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "fit/parallel.h"

namespace sweep::fit {
namespace {

class CeresObjective : public ceres::FirstOrderFunction {
 public:
  explicit CeresObjective(const HuberLogLossObjective* objective) : objective_(objective) {}
  bool Evaluate(const double* x, double* cost, double* gradient) const override {
    *cost = objective_->evaluate(x, gradient);
    return std::isfinite(*cost);
  }
  int NumParameters() const override { return 5; }

 private:
  const HuberLogLossObjective* objective_;
};

// Ceres logs through glog; its line search warns (to stderr, per start) when a
// cubic step degenerates, which is harmless here. Keep errors only.
void quiet_ceres_logging() {
  static const bool done = [] {
    FLAGS_minloglevel = google::GLOG_ERROR;
    return true;
  }();
  (void)done;
}

struct StartResult {
  StartPoint x;
  double objective;
  ceres::TerminationType termination;
  std::string message;
};

Termination termination_of(ceres::TerminationType type) {
  switch (type) {
    case ceres::CONVERGENCE:
    case ceres::USER_SUCCESS:
      return Termination::kConvergence;
    case ceres::NO_CONVERGENCE:
      return Termination::kNoConvergence;
    default:
      return Termination::kFailure;
  }
}

std::string with_commas(int n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

const char* to_string(Termination termination) {
  switch (termination) {
    case Termination::kConvergence:
      return "CONVERGENCE";
    case Termination::kNoConvergence:
      return "NO_CONVERGENCE";
    case Termination::kFailure:
      break;
  }
  return "FAILURE";
}

std::string ParametricFit::why_unusable() const {
  if (termination == Termination::kFailure)
    return "L-BFGS failed from every start" + (message.empty() ? "" : ": " + message);
  if (!std::isfinite(objective) || !std::isfinite(law.E) || !std::isfinite(law.A) ||
      !std::isfinite(law.B) || !std::isfinite(law.G()))
    return "the best fit is not finite: the runs do not pin the law down";
  if (!(law.alpha > kMinExponent && law.beta > kMinExponent)) {
    char exponents[96];
    std::snprintf(exponents, sizeof(exponents), "α = %.3g, β = %.3g", law.alpha, law.beta);
    return "the best fit has no trend in " + std::string(law.alpha > kMinExponent ? "D" : "N") +
           " (" + exponents + "): the loss would not fall with " +
           (law.alpha > kMinExponent ? "D" : "N") + "; the runs do not pin the law down";
  }
  return "";
}

std::string ParametricFit::brief_report() const {
  char objective_text[32];
  std::snprintf(objective_text, sizeof(objective_text), "%.3g", objective);
  return std::string(to_string(termination)) + "; " + with_commas(converged) + " of " +
         with_commas(starts) + " starts converged; objective " + objective_text;
}

std::vector<StartPoint> chinchilla_start_grid() {
  std::vector<StartPoint> grid;
  for (int ia = 0; ia <= 4; ++ia)
    for (int ib = 0; ib <= 4; ++ib)
      for (int ie = 0; ie <= 4; ++ie)
        for (int ja = 0; ja <= 5; ++ja)
          for (int jb = 0; jb <= 5; ++jb)
            grid.push_back({0.5 * ia, 0.5 * ib, -1 + 0.5 * ie, 5.0 * ja, 5.0 * jb});
  return grid;  // 5 · 5 · 5 · 6 · 6 = 4,500 starts
}

ParametricLaw law_of(const StartPoint& x) {
  return {std::exp(x.e), std::exp(x.a), std::exp(x.b), x.alpha, x.beta};
}

double HuberLogLossObjective::evaluate(const double* x, double* gradient) const {
  const double alpha = x[0], beta = x[1], e = x[2], a = x[3], b = x[4];
  double total = 0;
  double g[5] = {0, 0, 0, 0, 0};
  for (size_t i = 0; i < log_loss.size(); ++i) {
    const double t1 = a - alpha * log_params[i];
    const double t2 = b - beta * log_tokens[i];
    const double t3 = e;
    const double m = std::max(t1, std::max(t2, t3));
    const double w1 = std::exp(t1 - m), w2 = std::exp(t2 - m), w3 = std::exp(t3 - m);
    const double s = w1 + w2 + w3;
    const double r = m + std::log(s) - log_loss[i];
    const double abs_r = std::abs(r);
    double slope;  // dHuber/dr
    if (abs_r <= delta) {
      total += 0.5 * r * r;
      slope = r;
    } else {
      total += delta * (abs_r - 0.5 * delta);
      slope = r > 0 ? delta : -delta;
    }
    if (gradient) {
      const double k = slope / s;
      g[0] -= k * w1 * log_params[i];
      g[1] -= k * w2 * log_tokens[i];
      g[2] += k * w3;
      g[3] += k * w1;
      g[4] += k * w2;
    }
  }
  if (gradient) std::copy(g, g + 5, gradient);
  return total;
}

ParametricFit fit_parametric(const std::vector<double>& params, const std::vector<double>& tokens,
                             const std::vector<double>& loss, const ParametricFitOptions& options) {
  quiet_ceres_logging();
  HuberLogLossObjective objective;
  objective.delta = options.huber_delta;
  for (size_t i = 0; i < loss.size(); ++i) {
    objective.log_params.push_back(std::log(params[i]));
    objective.log_tokens.push_back(std::log(tokens[i]));
    objective.log_loss.push_back(std::log(loss[i]));
  }
  const std::vector<StartPoint> starts =
      options.starts.empty() ? chinchilla_start_grid() : options.starts;

  ceres::GradientProblemSolver::Options solver_options;
  solver_options.line_search_direction_type = ceres::LBFGS;
  solver_options.max_num_iterations = options.max_iterations;
  solver_options.function_tolerance = options.function_tolerance;
  solver_options.gradient_tolerance = options.gradient_tolerance;
  solver_options.parameter_tolerance = options.parameter_tolerance;
  solver_options.logging_type = ceres::SILENT;

  std::vector<StartResult> results(starts.size());
  auto solve = [&](size_t i) {
    // The problem owns its function; the function only points at `objective`.
    ceres::GradientProblem problem(new CeresObjective(&objective));
    double x[5] = {starts[i].alpha, starts[i].beta, starts[i].e, starts[i].a, starts[i].b};
    ceres::GradientProblemSolver::Summary summary;
    ceres::Solve(solver_options, problem, x, &summary);
    const double value = objective.evaluate(x, nullptr);
    results[i] = {{x[0], x[1], x[2], x[3], x[4]},
                  std::isfinite(value) ? value : INFINITY,
                  summary.termination_type,
                  summary.message};
  };
  // A handful of starts is not worth a thread each.
  parallel_for(starts.size(), starts.size() < 8 ? 1 : options.threads, solve);

  // Best first; ties (same optimum from many starts) broken by start order.
  std::vector<size_t> order(results.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return results[a].objective < results[b].objective; });
  ParametricFit fit;
  fit.starts = static_cast<int>(starts.size());
  for (const StartResult& r : results) fit.converged += r.termination == ceres::CONVERGENCE;
  if (results.empty()) {
    fit.message = "no start points";
    return fit;
  }
  const StartResult& best = results[order[0]];
  fit.objective = best.objective;
  fit.law = law_of(best.x);
  fit.termination =
      std::isfinite(best.objective) ? termination_of(best.termination) : Termination::kFailure;
  fit.message = best.message;
  for (size_t i : order) {
    const StartPoint& x = results[i].x;
    if (!std::isfinite(results[i].objective)) break;
    const bool seen = std::any_of(fit.optima.begin(), fit.optima.end(), [&](const StartPoint& y) {
      return std::abs(x.alpha - y.alpha) + std::abs(x.beta - y.beta) + std::abs(x.e - y.e) +
                 std::abs(x.a - y.a) + std::abs(x.b - y.b) <
             1e-3;
    });
    if (!seen) fit.optima.push_back(x);
    if (static_cast<int>(fit.optima.size()) == options.keep_optima) break;
  }
  return fit;
}

}  // namespace sweep::fit
