"""Package a final assignment as a SolveResult: the executable plan, a reason
for every unplaced item, and the lexicographic score in ``stats``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optsched.model import Assignment
from optsched.results import SolveResult, Status
from optsched.solvers.placement.plan import order_plan
from optsched.solvers.placement.reasons import unplaced_reasons
from optsched.solvers.placement.score import evaluate, tier_weights, tiers
from optsched.solvers.placement.state import snapshot_state
from optsched.solvers.placement.topology import Topology


def tier_counts(topo: Topology) -> list[int]:
    order = tiers(topo.problem)
    counts = [0] * len(order)
    for it in topo.cc.snapshot.items:
        counts[order.index(it.priority)] += 1
    return counts


def make_result(
    topo: Topology,
    final: Mapping[str, Assignment],
    *,
    solver: str,
    status: Status,
    wall_time_s: float,
    placed_bound: int | None = None,
    message: str = "",
    stats: Mapping[str, Any] | None = None,
) -> SolveResult:
    """The answer ``final`` as a result. ``objective`` (lower is better, as
    the portfolio compares) is level 1 folded with dominating tier weights
    (:func:`score.tier_weights`) over the items left *unplaced*: zero when
    everything is placed. ``placed_bound``, when the solver proves one, is an
    upper bound on the folded items placed; ``best_bound`` is then the lower
    bound it implies on the objective."""
    score = evaluate(topo.problem, final)
    counts = tier_counts(topo)
    weights = tier_weights(counts)
    everything = sum(c * w for c, w in zip(counts, weights, strict=True))
    plan, notes = order_plan(topo, final)
    all_stats: dict[str, Any] = {
        "tiers": tiers(topo.problem),
        "placed_by_tier": list(score.placed),
        "eviction_cost": score.eviction_cost,
        "evictions": len(plan.evictions),
        "moves": score.moves,
        "packing": score.packing,
        "placed": sum(score.placed),
        "plan_notes": notes,
    }
    all_stats.update(stats or {})
    return SolveResult(
        status=status,
        solver=solver,
        plan=plan,
        objective=float(everything - score.primary(weights)),
        best_bound=None if placed_bound is None else float(everything - placed_bound),
        wall_time_s=wall_time_s,
        unplaced=unplaced_reasons(topo, final),
        message="; ".join(filter(None, [message, *notes[:3]])),
        stats=all_stats,
    )


def broken_snapshot(topo: Topology, solver: str) -> SolveResult | None:
    """For heuristics, which never repair running items: a result saying the
    snapshot already breaks a constraint, or None when it is consistent."""
    broken = snapshot_state(topo).broken()
    if not broken:
        return None
    ids = ", ".join(topo.cc.snapshot.items[m].item_id for m in broken[:5])
    return SolveResult(
        Status.NO_SOLUTION_IN_TIME,
        solver=solver,
        message=f"the running items already break capacity or affinity ({ids}); this heuristic does not repair them",
    )
