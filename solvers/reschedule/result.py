"""Building a :class:`~optsched.results.SolveResult` from a rescheduling state."""

from __future__ import annotations

import time
from typing import Any

from optsched.results import SolveResult, Status
from optsched.solvers.reschedule.state import RescheduleState


def state_result(
    state: RescheduleState,
    *,
    solver: str,
    status: Status,
    started: float,
    fr_before: float,
    best_bound: float | None = None,
    message: str = "",
    **stats: Any,  # extra solver statistics for ``SolveResult.stats``
) -> SolveResult:
    """The moves of ``state`` as the plan, its fragment rate as the objective."""
    plan = state.plan()
    return SolveResult(
        status=status,
        solver=solver,
        plan=plan,
        objective=state.fragment_rate(),
        best_bound=best_bound,
        wall_time_s=time.monotonic() - started,
        message=message,
        stats={
            "fragment_rate_before": fr_before,
            "fragment_rate_after": state.fragment_rate(),
            "moves": len(plan.moves),
            **stats,
        },
    )
