"""The starting plan of the searching solvers (exact CP-SAT and LNS).

Both start from a local search: greedy single moves, then pair moves where no
single move improves (:func:`.pairs.improve`). Warm-started (the portfolio
passes the best answer so far, typically the learned policy's), they start
from the better of that plan and the given one, itself extended by the same
local search with the moves it leaves unused: CP-SAT is hinted with it and
never answers worse, and LNS improves it. The plan of the lower bound's
configurations (:mod:`.config_plan`, :func:`configuration_state`) is a
candidate too; on the medium instances measured it meets the bound, which
proves it optimal before any search. The given plan is replayed move by
move on the solver's own state, so a plan that does not apply (an unknown VM
or host, an infeasible step, more moves than the limit) is ignored rather
than trusted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from optsched.results import ActionKind, Plan
from optsched.solvers.reschedule.bound import RemainderBound
from optsched.solvers.reschedule.config_plan import configuration_plan
from optsched.solvers.reschedule.pairs import improve
from optsched.solvers.reschedule.state import RescheduleState

log = logging.getLogger(__name__)


def replay(
    origin: RescheduleState, plan: Plan, limit: int, *, check: bool = True
) -> RescheduleState | None:
    """``origin`` with ``plan``'s moves applied in order (a copy), or None
    when the plan does not apply to it. ``check=False`` skips the state's
    feasibility check of each move (for plans whose moves were already
    checked, by the learned policy's masks, and whose result is only read
    for its hosts' configurations: about 0.25 ms a move on medium)."""
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
            state.move(vm, host, tuple(numa), check=check)
        except ValueError:
            return None
    return state


def starting_state(
    origin: RescheduleState, limit: int, search_deadline: float | None, warm: Plan | None = None
) -> tuple[RescheduleState, str]:
    """The better of the local search's plan (run until ``search_deadline``;
    none when that is None) and ``warm`` applied to ``origin`` and extended
    by the same search until the deadline, ties going to fewer moves, then to
    the local search; and which it was ("local search", "warm-start" or
    "empty")."""
    state = origin.copy()
    source = "empty"
    if search_deadline is not None:
        improve(state, limit, search_deadline)
        source = "local search"
    if warm is None:
        return state, source
    given = replay(origin, warm, limit)
    if given is None:
        log.warning("the warm-start plan does not apply to the problem; starting from its own")
        return state, source
    if search_deadline is not None:
        improve(given, limit - len(given.actions), search_deadline)
    return better((state, source), given, "warm-start")


def better(
    best: tuple[RescheduleState, str], other: RescheduleState | None, source: str
) -> tuple[RescheduleState, str]:
    """``(other, source)`` when it has a lower fragment rate than ``best``'s
    plan, or the same with fewer moves; else ``best``."""
    if other is None:
        return best
    if (other.fragment_rate(), len(other.actions)) < (
        best[0].fragment_rate(),
        len(best[0].actions),
    ):
        return other, source
    return best


def configuration_state(
    origin: RescheduleState,
    bound: RemainderBound | None,
    limit: int,
    deadline: float,
    also: Sequence[RescheduleState] = (),
) -> RescheduleState | None:
    """The plan of ``bound``'s configurations (:mod:`.config_plan`; with the
    host configurations of the plans ``also`` among them), or None without
    them or without an integer master answer by ``deadline``."""
    if bound is None or bound.configurations is None:
        return None
    return configuration_plan(origin, bound.configurations, limit, deadline, also)
