"""bench/fit_scipy.py: the baseline for bench/fit. Chinchilla approach 3 fitted
the way a Python user would, with SciPy's L-BFGS-B, on the points bench_fit
wrote and with the same objective, gradient, start grid and stopping numbers
as fit/parametric_fit.cc (Ceres):

    minimise  sum_i Huber_delta(LSE(a - alpha ln N_i, b - beta ln D_i, e) - ln L_i),  delta = 1e-3

over x = (alpha, beta, e, a, b) from every point of Chinchilla's grid
alpha, beta in {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}
(5*5*5*6*6 = 4,500 starts, in fit/parametric_fit.cc's order), keeping the best.
The objective and its analytic gradient are numpy, vectorised over runs; the
log-sum-exp is written out (max-shifted, as in C++) because its softmax
weights are the gradient's.

Options matched to Ceres' (fit/parametric_fit.h): maxiter 1000, gtol 1e-14,
maxcor 20 (Ceres' default L-BFGS rank), maxls 20, and ftol 1e-16. Ceres stops
when |Δf| / f < 1e-12; SciPy when Δf / max(|f|, 1) <= ftol. The objective is
~1e-4 at the optima, where Ceres' rule is |Δf| < ~1e-16, so ftol = 1e-16 asks
SciPy for the same. With ftol = 1e-12 SciPy stops earlier, ~1e-5 away from
Ceres' optimum in the exponents, after ~25% fewer evaluations.

Runs under Debian's python3-scipy: /usr/bin/python3 bench/fit_scipy.py points.csv
Prints lines for people, then one JSON line (the last line of stdout).

  fit_scipy.py POINTS.csv [--starts-every 1] [--ftol 1e-16] [--check-x alpha,beta,e,a,b]
"""
import argparse
import json
import sys
import time

import numpy as np
import scipy
from scipy.optimize import minimize

DELTA = 1e-3  # Huber delta, in ln L


def start_grid():
    """Chinchilla's grid in fit::chinchilla_start_grid()'s order (b fastest)."""
    return [(0.5 * ia, 0.5 * ib, -1 + 0.5 * ie, 5.0 * ja, 5.0 * jb)
            for ia in range(5) for ib in range(5) for ie in range(5)
            for ja in range(6) for jb in range(6)]


def make_objective(log_params, log_tokens, log_loss, delta=DELTA):
    # Written for speed at ~20-40 runs, where numpy's per-call overhead is the
    # cost: np.minimum/np.maximum instead of np.clip and a.dot(b) instead of
    # (a * b).sum() took one evaluation from 55 to 42 µs here.
    def objective(x):
        alpha, beta, e, a, b = x
        t1 = a - alpha * log_params
        t2 = b - beta * log_tokens
        m = np.maximum(np.maximum(t1, t2), e)
        w1, w2, w3 = np.exp(t1 - m), np.exp(t2 - m), np.exp(e - m)
        s = w1 + w2 + w3
        r = m + np.log(s) - log_loss
        abs_r = np.abs(r)
        huber = np.where(abs_r <= delta, 0.5 * r * r, delta * abs_r - 0.5 * delta * delta)
        value = float(huber.sum())
        k = np.minimum(np.maximum(r, -delta), delta) / s  # dHuber/dr over the LSE's denominator
        kw1, kw2 = k * w1, k * w2
        gradient = np.array([-kw1.dot(log_params), -kw2.dot(log_tokens), k.dot(w3),
                             kw1.sum(), kw2.sum()])
        return value, gradient
    return objective


def main():
    p = argparse.ArgumentParser()
    p.add_argument("csv")
    p.add_argument("--starts-every", type=int, default=1)
    p.add_argument("--ftol", type=float, default=1e-16)
    p.add_argument("--check-x", help="alpha,beta,e,a,b: print the objective there (Ceres' optimum)")
    args = p.parse_args()

    data = np.loadtxt(args.csv, delimiter=",", skiprows=1, ndmin=2)
    params, tokens, loss = data[:, 0], data[:, 1], data[:, 2]
    objective = make_objective(np.log(params), np.log(tokens), np.log(loss))
    starts = start_grid()[::args.starts_every]
    options = {"maxiter": 1000, "gtol": 1e-14, "ftol": args.ftol, "maxcor": 20, "maxls": 20}

    x0 = np.array([0.5, 0.5, 0.5, 5.0, 5.0])
    evaluations = 20000
    t0 = time.perf_counter()
    for _ in range(evaluations):
        objective(x0)
    evaluation_us = (time.perf_counter() - t0) / evaluations * 1e6

    best, evaluations_total, iterations_total, converged = None, 0, 0, 0
    t0, cpu0 = time.perf_counter(), time.process_time()
    with np.errstate(over="ignore", invalid="ignore"):
        for start in starts:
            result = minimize(objective, np.array(start), method="L-BFGS-B", jac=True,
                              options=options)
            evaluations_total += result.nfev
            iterations_total += result.nit
            converged += bool(result.success)
            if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
                best = result
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0

    alpha, beta, e, a, b = best.x
    law = {"E": float(np.exp(e)), "A": float(np.exp(a)), "B": float(np.exp(b)),
           "alpha": float(alpha), "beta": float(beta)}
    out = {"scipy": scipy.__version__, "numpy": np.__version__, "runs": len(loss),
           "starts": len(starts), "starts_every": args.starts_every, "ftol": args.ftol,
           "seconds": seconds, "cpu_seconds": cpu_seconds, "evaluation_us": evaluation_us,
           "evaluations": int(evaluations_total), "iterations": int(iterations_total),
           "converged": converged, "objective": float(best.fun),
           "x": dict(zip(["alpha", "beta", "e", "a", "b"], map(float, best.x))), "law": law}
    print(f"SciPy {scipy.__version__} L-BFGS-B (numpy {np.__version__}), 1 thread: "
          f"{len(starts)} starts on {len(loss)} runs in {seconds:.2f} s ({cpu_seconds:.2f} s CPU); "
          f"{evaluations_total} evaluations, {iterations_total} iterations, "
          f"{converged} starts converged; one objective + gradient {evaluation_us:.2f} µs")
    print(f"best objective {best.fun:.10g}")
    print(f"alpha {alpha:.6f}  beta {beta:.6f}  E {law['E']:.6f}  A {law['A']:.6g}  "
          f"B {law['B']:.6g}  (a = ln A {a:.6f}, b = ln B {b:.6f})")
    if args.check_x:
        x = np.array([float(v) for v in args.check_x.split(",")])
        out["objective_at_check_x"] = float(objective(x)[0])
        print(f"numpy's objective at Ceres' optimum: {out['objective_at_check_x']:.10g}")
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
