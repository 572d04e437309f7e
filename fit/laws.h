#pragma once
// The functional forms of the scaling laws and their small fits.
//
//   PowerLaw        y = coefficient · x^exponent        (N_opt(C), D_opt(C))
//   OffsetPowerLaw  L = E + (scale / x)^exponent        (Kaplan's L(N), L(D), L(C))
//   Parabola        L = c0 + c1·u + c2·u²,  u = ln N    (one IsoFLOP profile)
//   ParametricLaw   L(N, D) = E + A/N^α + B/D^β         (Chinchilla approach 3)
//
// Losses are nats per token; x is in its natural unit (parameters, tokens,
// FLOPs). Fits that cannot give a number (too few points, no minimum) return
// an empty std::optional with the reason in `why`; they never throw for data.

#include <optional>
#include <string>
#include <vector>

namespace sweep::fit {

struct PowerLaw {
  double coefficient = 0, exponent = 0;
  double at(double x) const;
};
// Least squares of ln y on ln x. Needs >= 2 distinct x.
std::optional<PowerLaw> fit_power_law(const std::vector<double>& x, const std::vector<double>& y,
                                      std::string* why);

struct OffsetPowerLaw {
  double E = 0;         // irreducible loss (0 for the plain power law)
  double scale = 0;     // x at which the reducible part is 1 nat (Kaplan's N_c, D_c, C_c)
  double exponent = 0;  // Kaplan's α_N, α_D, α_C
  double at(double x) const;
};
// Least squares of ln L. `with_offset` fits E >= 0 too (needs >= 4 points);
// otherwise E = 0 (needs >= 2).
std::optional<OffsetPowerLaw> fit_offset_power_law(const std::vector<double>& x,
                                                   const std::vector<double>& loss,
                                                   bool with_offset, std::string* why);

struct Parabola {
  double c0 = 0, c1 = 0, c2 = 0;  // in u = ln N
  double at(double params) const;
  double vertex_params() const;  // exp(-c1 / 2c2)
  double vertex_loss() const;
};
// Least squares of L on (1, ln N, ln² N). Needs >= 3 distinct N; fails when
// the profile has no minimum (c2 <= 0: flat or concave).
std::optional<Parabola> fit_parabola(const std::vector<double>& params,
                                     const std::vector<double>& loss, std::string* why);

struct ParametricLaw {
  double E = 0, A = 0, B = 0, alpha = 0, beta = 0;

  double loss(double params, double tokens) const;
  // The compute-optimal allocation for C = k·N·D in closed form:
  //   N_opt = G·(C/k)^a, D_opt = (C/k)^b / G,
  //   G = (αA / βB)^(1/(α+β)), a = β/(α+β), b = α/(α+β).
  double a() const;
  double b() const;
  double G() const;
  double optimal_params(double compute, double k) const;
  double optimal_tokens(double compute, double k) const;
};

}  // namespace sweep::fit
