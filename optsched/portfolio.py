"""The portfolio: picks solvers for a problem and a budget, runs them, and
never returns an answer that fails the validator.

:func:`select` is a pure function from (problem kind, size, budget) to an
ordered list of solver names; :func:`run` executes them in order within the
budget, validates each answer and falls back to the next solver when an
answer is missing or invalid.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from optsched import names
from optsched.budget import Budget
from optsched.problems.base import ProblemKind
from optsched.registry import load_builtin
from optsched.results import SolveResult, Status
from optsched.validate import validate

log = logging.getLogger(__name__)

# Preference order per problem kind: first the best answer, then the fast
# fallbacks. Names not present in the registry are skipped.
DEFAULT_CHAINS: dict[ProblemKind, tuple[str, ...]] = {
    ProblemKind.POD_PLACEMENT: (
        names.CPSAT_PLACEMENT,
        names.KUBE_DEFAULT,
        names.FIRST_FIT_DECREASING,
    ),
    ProblemKind.VM_PLACEMENT: (
        names.CPSAT_PLACEMENT,
        names.BEST_FIT_DECREASING,
        names.FIRST_FIT_DECREASING,
    ),
    ProblemKind.VM_RESCHEDULING: (
        names.CPSAT_RESCHEDULE,
        names.LNS_RESCHEDULE,
        names.GREEDY_RESCHEDULE,
    ),
    ProblemKind.GPU_PARTITION_PLACEMENT: (names.CPSAT_MIG, names.GREEDY_MIG),
    ProblemKind.MODEL_PLACEMENT: (names.CPSAT_SENSITIVITY, names.SENSITIVITY_GREEDY),
    ProblemKind.BACKEND_SIZING: (names.SWAYAM,),
    ProblemKind.FREQUENCY_CONTROL: (names.MIAD,),
}


def select(kind: ProblemKind, size: int, budget_s: float, available: Sequence[str]) -> list[str]:
    """Ordered solver names to try for a problem of ``kind`` and ``size``
    within ``budget_s`` seconds, from the ``available`` ones."""
    del size, budget_s  # the latency-model-driven choice refines this order
    avail = set(available)
    return [n for n in DEFAULT_CHAINS.get(kind, ()) if n in avail]


def run(problem: Any, budget: Budget, solver: str | None = None, **config: Any) -> SolveResult:
    """Solve ``problem`` within ``budget``: with the named solver only, or
    with the portfolio's chain. The returned answer has passed the validator,
    or carries no plan and says why."""
    registry = load_builtin()
    chain = (
        [solver]
        if solver
        else select(problem.kind, problem.size(), budget.seconds, registry.names(problem.kind))
    )
    if not chain:
        return SolveResult(
            Status.NO_SOLUTION_IN_TIME, solver="portfolio", message=f"no solver for {problem.kind}"
        )
    last: SolveResult | None = None
    failures: list[str] = []
    for name in chain:
        if last is not None and budget.expired():
            break
        started = time.monotonic()
        result = registry.create(name, **config).solve(
            problem, budget if solver else budget.fraction(1.0)
        )
        if not result.status.has_solution:
            failures.append(f"{name}: {result.status}")
            last = result
            continue
        report = validate(problem, result)
        if report.ok:
            return replace(result, wall_time_s=max(result.wall_time_s, time.monotonic() - started))
        log.error("solver %s returned an invalid answer: %s", name, report.summary())
        failures.append(f"{name}: invalid answer ({report.summary(2)})")
        last = replace(result, status=Status.NO_SOLUTION_IN_TIME, plan=None, solution=None)
    msg = "; ".join(failures)
    if last is None:
        return SolveResult(Status.NO_SOLUTION_IN_TIME, solver="portfolio", message=msg)
    return replace(last, message=msg or last.message)
