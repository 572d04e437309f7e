#include "fit/laws.h"

#include <ceres/ceres.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <set>

namespace sweep::fit {
namespace {

int distinct(const std::vector<double>& x) {
  std::set<double> values(x.begin(), x.end());
  return static_cast<int>(values.size());
}

// ln L − ln(E + (s/x)^α), parameters (E, ln s, α).
struct OffsetResidual {
  double log_x, log_loss;
  template <typename T>
  bool operator()(const T* E, const T* log_scale, const T* exponent, T* residual) const {
    residual[0] = log(E[0] + exp(exponent[0] * (log_scale[0] - T(log_x)))) - T(log_loss);
    return true;
  }
};

}  // namespace

double PowerLaw::at(double x) const { return coefficient * std::pow(x, exponent); }

std::optional<PowerLaw> fit_power_law(const std::vector<double>& x, const std::vector<double>& y,
                                      std::string* why) {
  if (x.size() != y.size() || distinct(x) < 2) {
    if (why) *why = "needs at least 2 distinct points";
    return std::nullopt;
  }
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double n = static_cast<double>(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if (!(x[i] > 0 && y[i] > 0)) {
      if (why) *why = "non-positive value in a power-law fit";
      return std::nullopt;
    }
    const double u = std::log(x[i]), v = std::log(y[i]);
    sx += u, sy += v, sxx += u * u, sxy += u * v;
  }
  const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  const double intercept = (sy - slope * sx) / n;
  return PowerLaw{std::exp(intercept), slope};
}

double OffsetPowerLaw::at(double x) const { return E + std::pow(scale / x, exponent); }

std::optional<OffsetPowerLaw> fit_offset_power_law(const std::vector<double>& x,
                                                   const std::vector<double>& loss,
                                                   bool with_offset, std::string* why) {
  const int needed = with_offset ? 4 : 2;
  if (x.size() != loss.size() || distinct(x) < needed) {
    if (why)
      *why = std::string("needs at least ") + std::to_string(needed) + " distinct points" +
             (with_offset ? " for the irreducible term" : "");
    return std::nullopt;
  }
  const std::optional<PowerLaw> plain = fit_power_law(x, loss, why);
  if (!plain) return std::nullopt;
  // L = k·x^p = (s/x)^α with α = −p, s = k^(1/α).
  const double alpha0 = -plain->exponent;
  if (!(std::abs(alpha0) > 1e-12)) {
    if (why) *why = "the loss does not change with x";
    return std::nullopt;
  }
  OffsetPowerLaw best{0, std::pow(plain->coefficient, 1 / alpha0), alpha0};
  if (!with_offset) return best;

  const double min_loss = *std::min_element(loss.begin(), loss.end());
  double best_cost = INFINITY;
  bool any = false;
  for (double share : {0.0, 0.3, 0.6, 0.9}) {
    // Start: E = share·min L, and the plain law through L − E.
    std::vector<double> reducible;
    for (double l : loss) reducible.push_back(l - share * min_loss);
    std::optional<PowerLaw> start = fit_power_law(x, reducible, nullptr);
    if (!start || !(start->exponent < 0)) continue;
    double E = share * min_loss, exponent = -start->exponent;
    double log_scale = std::log(start->coefficient) / exponent;
    ceres::Problem problem;
    for (size_t i = 0; i < x.size(); ++i) {
      problem.AddResidualBlock(new ceres::AutoDiffCostFunction<OffsetResidual, 1, 1, 1, 1>(
                                   new OffsetResidual{std::log(x[i]), std::log(loss[i])}),
                               nullptr, &E, &log_scale, &exponent);
    }
    problem.SetParameterLowerBound(&E, 0, 0.0);
    problem.SetParameterUpperBound(&E, 0, min_loss * (1 - 1e-9));
    ceres::Solver::Options options;
    options.max_num_iterations = 200;
    options.function_tolerance = 1e-14;
    options.parameter_tolerance = 1e-12;
    options.logging_type = ceres::SILENT;
    ceres::Solver::Summary summary;
    ceres::Solve(options, &problem, &summary);
    if (!summary.IsSolutionUsable() || !std::isfinite(summary.final_cost)) continue;
    if (summary.final_cost < best_cost) {
      best_cost = summary.final_cost;
      best = {E, std::exp(log_scale), exponent};
      any = true;
    }
  }
  if (!any) {
    if (why) *why = "the fit with an irreducible term did not converge";
    return std::nullopt;
  }
  return best;
}

double Parabola::at(double params) const {
  const double u = std::log(params);
  return c0 + c1 * u + c2 * u * u;
}
double Parabola::vertex_params() const { return std::exp(-c1 / (2 * c2)); }
double Parabola::vertex_loss() const { return c0 - c1 * c1 / (4 * c2); }

std::optional<Parabola> fit_parabola(const std::vector<double>& params,
                                     const std::vector<double>& loss, std::string* why) {
  if (params.size() != loss.size() || distinct(params) < 3) {
    if (why) *why = "needs runs of at least 3 sizes";
    return std::nullopt;
  }
  // Centre u for conditioning, then shift back.
  double mean_u = 0;
  for (double n : params) mean_u += std::log(n);
  mean_u /= static_cast<double>(params.size());
  Eigen::MatrixXd X(params.size(), 3);
  Eigen::VectorXd y(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const double u = std::log(params[i]) - mean_u;
    X(i, 0) = 1, X(i, 1) = u, X(i, 2) = u * u;
    y(i) = loss[i];
  }
  const Eigen::Vector3d c = X.colPivHouseholderQr().solve(y);
  // Scale of the curvature that matters: over the sampled span of u.
  double span = 0;
  for (int i = 0; i < X.rows(); ++i) span = std::max(span, std::abs(X(i, 1)));
  // Flat: the curvature moves the loss by less than a millionth over the span.
  if (!(c(2) > 0) || c(2) * span * span <= 1e-6 * std::abs(y.mean())) {
    if (why) *why = "the profile has no minimum (flat or bending down)";
    return std::nullopt;
  }
  Parabola p;
  p.c2 = c(2);
  p.c1 = c(1) - 2 * c(2) * mean_u;
  p.c0 = c(0) - c(1) * mean_u + c(2) * mean_u * mean_u;
  return p;
}

double ParametricLaw::loss(double params, double tokens) const {
  return E + A / std::pow(params, alpha) + B / std::pow(tokens, beta);
}
double ParametricLaw::a() const { return beta / (alpha + beta); }
double ParametricLaw::b() const { return alpha / (alpha + beta); }
double ParametricLaw::G() const { return std::pow(alpha * A / (beta * B), 1 / (alpha + beta)); }
double ParametricLaw::optimal_params(double compute, double k) const {
  return G() * std::pow(compute / k, a());
}
double ParametricLaw::optimal_tokens(double compute, double k) const {
  return std::pow(compute / k, b()) / G();
}

}  // namespace sweep::fit
