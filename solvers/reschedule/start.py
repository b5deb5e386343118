"""The starting plan of the searching solvers (exact CP-SAT and LNS).

Both start from greedy's plan. Warm-started (the portfolio passes the best
answer so far, typically the learned policy's), they start from the better of
greedy's plan and the given one: CP-SAT is hinted with it and never answers
worse, and LNS improves it. The given plan is replayed move by move on the
solver's own state, so a plan that does not apply (an unknown VM or host, an
infeasible step, more moves than the limit) is ignored rather than trusted.
"""

from __future__ import annotations

import logging

from optsched.results import ActionKind, Plan
from optsched.solvers.reschedule.greedy import greedy
from optsched.solvers.reschedule.state import RescheduleState

log = logging.getLogger(__name__)


def replay(origin: RescheduleState, plan: Plan, limit: int) -> RescheduleState | None:
    """``origin`` with ``plan``'s moves applied in order (a copy), or None
    when the plan does not apply to it."""
    if len(plan.actions) > limit:
        return None
    vm_of = {v: i for i, v in enumerate(origin.vm_ids)}
    host_of = {h: i for i, h in enumerate(origin.host_names)}
    state = origin.copy()
    for a in plan.actions:
        if a.kind is not ActionKind.MOVE or a.target is None:
            return None
        vm, host = vm_of.get(a.item_id), host_of.get(a.target.node)
        if vm is None or host is None:
            return None
        numa = a.target.numa if state.has_numa[host] else (0,)
        try:  # the state's own check: movable, in its cluster, fits, affinity
            state.move(vm, host, tuple(numa))
        except ValueError:
            return None
    return state


def starting_state(
    origin: RescheduleState, limit: int, greedy_deadline: float | None, warm: Plan | None = None
) -> tuple[RescheduleState, str]:
    """The better of greedy's plan (run until ``greedy_deadline``; none when
    that is None) and ``warm`` applied to ``origin``, ties going to fewer
    moves, then to greedy; and which it was ("greedy", "warm-start" or
    "empty")."""
    state = origin.copy()
    source = "empty"
    if greedy_deadline is not None:
        greedy(state, limit, greedy_deadline)
        source = "greedy"
    if warm is None:
        return state, source
    given = replay(origin, warm, limit)
    if given is None:
        log.warning("the warm-start plan does not apply to the problem; starting from greedy")
        return state, source
    mine = (state.fragment_rate(), len(state.actions))
    if (given.fragment_rate(), len(given.actions)) < mine:
        return given, "warm-start"
    return state, source
