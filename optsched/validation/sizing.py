"""Checks a backend-sizing answer and recomputes its SLA claim.

Written from the problem's definition (``optsched.problems.sizing`` and the
response-time model stated in ``solvers/sizing/response_time.py``), sharing
no code with the solver, and by a different numerical route:

* log-normal MLE recomputed from the samples (mu = mean ln x, sigma^2 =
  mean (ln x - mu)^2, sigma >= MIN_SIGMA_LOG);
* Erlang C from its closed form in log space,
      C = T_n / (sum_{k<n} a^k / k! + T_n),  T_n = a^n / n! * n / (n - a),
  instead of the Erlang-B recursion;
* P(R <= x) = integral_0^x f_S(s) F_W(x - s) ds with
  F_W(w) = 1 - C e^(-theta w), theta = 2 (n mu - lambda) / (1 + Cs^2),
  by composite Simpson on a fixed grid in u = ln s, instead of adaptive
  quadrature of the other convolution order.

For each model it checks: the answer names every model once; n is an
integer in [stability bound, max_backends]; the claimed compliance matches
the recomputed one; the recomputed compliance meets SL_min; and n - 1
backends would not (minimality). An INFEASIBLE claim is confirmed by
recomputing the compliance at max_backends.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optsched.problems.sizing import MIN_SIGMA_LOG, BackendSizing, ModelSla
from optsched.results import SolveResult, Status
from optsched.validation.report import ValidationReport

COMPLIANCE_TOL = 1e-4  # the two numerical routes agree far closer than this
SIMPSON_POINTS = 4001  # odd
Z_SPAN = 12.0  # integrate the log-normal over mu +- 12 sigma
MS_PER_S = 1000.0


def _fit(samples_ms: tuple[float, ...]) -> tuple[float, float]:
    logs = np.log(np.asarray(samples_ms, dtype=float) / MS_PER_S)
    mu = float(logs.mean())
    return mu, max(float(np.sqrt(np.mean((logs - mu) ** 2))), MIN_SIGMA_LOG)


def _erlang_c(n: int, a: float) -> float:
    if a <= 0:
        return 0.0
    log_terms = [k * math.log(a) - math.lgamma(k + 1) for k in range(n)]
    log_tn = n * math.log(a) - math.lgamma(n + 1) + math.log(n / (n - a))
    top = max(max(log_terms), log_tn)
    below = sum(math.exp(t - top) for t in log_terms)
    tn = math.exp(log_tn - top)
    return tn / (below + tn)


def _simpson(y: np.ndarray, h: float) -> float:
    return float(h / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum()))


def compliance(n: int, rate_per_s: float, mu: float, sigma: float, rt_max_s: float) -> float:
    """P(W + S <= rt_max) for n backends under the module's model."""
    mean_s = math.exp(mu + sigma**2 / 2)
    a = rate_per_s * mean_s
    if a >= n:
        return 0.0
    c = _erlang_c(n, a)
    theta = 2 * (n / mean_s - rate_per_s) / (1 + math.expm1(sigma**2))
    u_hi = min(math.log(rt_max_s), mu + Z_SPAN * sigma)
    u_lo = mu - Z_SPAN * sigma
    if u_hi <= u_lo:
        return 0.0
    u = np.linspace(u_lo, u_hi, SIMPSON_POINTS)
    density = np.exp(-0.5 * ((u - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    f_wait = 1.0 - c * np.exp(-theta * (rt_max_s - np.exp(u)))
    return _simpson(density * f_wait, u[1] - u[0])


def _check_model(m: ModelSla, ans: Any, limit: int, report: ValidationReport) -> int | None:
    n = ans.get("backends") if isinstance(ans, dict) else None
    if isinstance(n, bool) or not isinstance(n, int):
        report.add(
            "structure", f"model {m.name}: backends must be an integer, got {n!r}", item_id=m.name
        )
        return None
    mu, sigma = _fit(m.service_times_ms)
    rate, x = m.arrival_rate_per_s * m.burst_factor, m.rt_max_ms / MS_PER_S
    stable = math.floor(rate * math.exp(mu + sigma**2 / 2)) + 1
    if not stable <= n <= limit:
        report.add(
            "backends_range", f"model {m.name}: {n} outside [{stable}, {limit}]", item_id=m.name
        )
        return n
    p = compliance(n, rate, mu, sigma, x)
    report.metrics[m.name] = {"backends": n, "compliance": p}
    claimed = ans.get("predicted_compliance")
    if not isinstance(claimed, int | float) or abs(float(claimed) - p) > COMPLIANCE_TOL:
        report.add(
            "compliance_claim",
            f"model {m.name}: claimed {claimed!r}, recomputed {p:.6f}",
            item_id=m.name,
        )
    if p < m.sl_min - COMPLIANCE_TOL:
        report.add(
            "sla", f"model {m.name}: {n} backends give {p:.6f} < SL_min {m.sl_min}", item_id=m.name
        )
    if n > stable and compliance(n - 1, rate, mu, sigma, x) >= m.sl_min + COMPLIANCE_TOL:
        report.add(
            "not_minimal", f"model {m.name}: {n - 1} backends already meet SL_min", item_id=m.name
        )
    return n


def _check_infeasible(
    problem: BackendSizing, result: SolveResult, report: ValidationReport
) -> None:
    by_name = {m.name: m for m in problem.models}
    for u in result.unplaced:
        m = by_name.get(u.item_id)
        if m is None:
            report.add("unknown_reference", f"unknown model {u.item_id!r}", item_id=u.item_id)
            continue
        mu, sigma = _fit(m.service_times_ms)
        p = compliance(
            problem.max_backends,
            m.arrival_rate_per_s * m.burst_factor,
            mu,
            sigma,
            m.rt_max_ms / MS_PER_S,
        )
        if p >= m.sl_min + COMPLIANCE_TOL:
            report.add(
                "infeasible_claim",
                f"model {m.name}: {problem.max_backends} backends give {p:.6f}",
                item_id=m.name,
            )


def validate_sizing(problem: BackendSizing, result: SolveResult) -> ValidationReport:
    report = ValidationReport()
    if result.status is Status.INFEASIBLE:
        _check_infeasible(problem, result, report)
    if not result.status.has_solution:
        return report
    models = result.solution.get("models") if isinstance(result.solution, dict) else None
    if not isinstance(models, dict) or set(models) != {m.name for m in problem.models}:
        report.add(
            "structure", "solution['models'] must answer every model of the problem exactly once"
        )
        return report
    total = 0
    for m in problem.models:
        n = _check_model(m, models[m.name], problem.max_backends, report)
        total += n or 0
    report.objective = float(total)
    if result.objective is not None and result.objective != report.objective:
        report.add("objective", f"claimed {result.objective}, recomputed {report.objective}")
    return report
