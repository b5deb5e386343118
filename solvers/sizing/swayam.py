"""Swayam's analytical sizing as a registered solver for
:class:`~optsched.problems.sizing.BackendSizing` (Gujarati et al.,
Middleware 2017; swayam-middleware-2017-slides.txt, "SLA-aware resource
estimation": for each model, n = min # backends for RT_max, SL_min, U).

For each model: fit the log-normal service time (``service_time``), then the
smallest n with P(R <= RT_max) >= SL_min at arrival rate U x L
(``response_time``). The objective is the total number of backends; the
answer is OPTIMAL under the model because the search starts at the
stability bound and P rises with n.
"""

from __future__ import annotations

import time
from typing import Any

from optsched.budget import Budget
from optsched.names import SWAYAM
from optsched.problems.base import ProblemKind
from optsched.problems.sizing import BackendSizing, ModelSla
from optsched.registry import register
from optsched.results import SolveResult, Status, Unplaced
from optsched.solver import Capabilities, SolverKind
from optsched.solvers.sizing.response_time import min_backends, stability_bound
from optsched.solvers.sizing.service_time import fit_lognormal

MS_PER_S = 1000.0


def size_model(m: ModelSla, max_backends: int) -> dict[str, Any]:
    """One model's answer: backends (None when infeasible), predicted
    compliance, the fitted service time and the offered load at U x L."""
    service = fit_lognormal([s / MS_PER_S for s in m.service_times_ms])
    rate = m.arrival_rate_per_s * m.burst_factor
    answer = min_backends(rate, service, m.rt_max_ms / MS_PER_S, m.sl_min, max_backends)
    return {
        "backends": None if answer is None else answer.backends,
        "predicted_compliance": None if answer is None else answer.compliance,
        "mu_log": service.mu_log,
        "sigma_log": service.sigma_log,
        "mean_service_ms": service.mean_s * MS_PER_S,
        "offered_load": rate * service.mean_s,
        "stability_bound": stability_bound(rate, service.mean_s),
    }


@register(SWAYAM, {ProblemKind.BACKEND_SIZING})
class SwayamSolver:
    name = SWAYAM
    capabilities = Capabilities(
        kind=SolverKind.HEURISTIC,
        problem_kinds=frozenset({ProblemKind.BACKEND_SIZING}),
        deterministic=True,
    )

    def solve(self, problem: BackendSizing, budget: Budget) -> SolveResult:
        t0 = time.monotonic()
        models: dict[str, dict[str, Any]] = {}
        for m in problem.models:
            if budget.expired():
                return SolveResult(
                    Status.NO_SOLUTION_IN_TIME,
                    self.name,
                    wall_time_s=time.monotonic() - t0,
                    message=f"budget ran out after {len(models)} of {len(problem.models)} models",
                )
            models[m.name] = size_model(m, problem.max_backends)
        short = [n for n, a in models.items() if a["backends"] is None]
        unplaced = tuple(
            Unplaced(
                n,
                f"no pool of at most {problem.max_backends} backends meets the SLA; "
                "raise max_backends or relax rt_max_ms / sl_min",
            )
            for n in short
        )
        status = Status.INFEASIBLE if short else Status.OPTIMAL
        total = None if short else float(sum(a["backends"] for a in models.values()))
        return SolveResult(
            status,
            self.name,
            solution={"models": models},
            objective=total,
            best_bound=total,
            wall_time_s=time.monotonic() - t0,
            unplaced=unplaced,
        )
