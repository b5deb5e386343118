"""The lexicographic objective as a sequence of CP-SAT stages.

Level 1 (items placed per priority tier, highest first) is solved first,
alone; levels 2-4 (eviction cost, moves, packing; :mod:`.score`) second,
with level 1 held at least at the value found. Within a stage the levels are
one weighted sum with dominating weights: each level's weight exceeds the
largest value all lower levels together can take, so the weighted optimum
is the lexicographic one.

Why stages rather than one weighted sum: (a) the tier weights grow as the
product of (tier size + 1) over lower tiers, which passes 2^53 (CP-SAT's
objective is a double) for large clusters with several tiers; tiers are cut
into as many stages as needed to stay below that; (b) a proof of level 1,
the level that matters for pending pods, is not slowed down by the packing
term, which is a bin-packing objective and hard to prove. The cost is that
each stage gets a share of the budget; a stage that proves its optimum
early hands the rest on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from optsched.problems.cluster import PACKING_MOST
from optsched.solvers._cpsat import add_linear, new_var
from optsched.solvers.placement.classes import Slot
from optsched.solvers.placement.model import Lin, PlacementModel
from optsched.solvers.placement.score import tier_weights, tiers

# Largest objective magnitude kept exact by CP-SAT's double objective, with
# a margin of two bits.
MAX_EXACT_OBJECTIVE = 2**51
PERCENT = 100


@dataclass
class Stage:
    """Maximize ``expr``."""

    name: str
    expr: Lin


def placement_stages(pm: PlacementModel) -> list[Stage]:
    """Level 1 as one stage per group of tiers whose weights stay exact."""
    order = tiers(pm.topo.problem)
    by_tier: list[list[int]] = [[] for _ in order]
    for c in pm.classes:
        by_tier[order.index(int(pm.topo.cc.priority[c.rep]))].append(c.index)
    counts = [sum(pm.classes[c].size for c in cs) for cs in by_tier]
    stages: list[Stage] = []
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and _span(counts[start : end + 1]) < MAX_EXACT_OBJECTIVE:
            end += 1
        expr = Lin()
        for k, w in zip(range(start, end), tier_weights(counts[start:end]), strict=True):
            for ci in by_tier[k]:
                expr.add(pm.placed[ci], w)
        stages.append(Stage(f"tiers {start}-{end - 1}", expr))
        start = end
    return stages


def _span(counts: list[int]) -> int:
    out = 1
    for k in counts:
        out *= k + 1
    return out


def disruption_stage(pm: PlacementModel) -> Stage:
    """Levels 2-4 in one stage, as a maximization of their negation."""
    order = tiers(pm.topo.problem)
    rank = {p: len(order) - k for k, p in enumerate(order)}
    prio = pm.topo.cc.priority
    max_moves = sum(c.n_running for c in pm.classes)
    packing, max_packing = _packing(pm)
    w_move = max_packing + 1
    w_evict = (max_moves + 1) * w_move
    expr = packing.scaled(-1)
    for c in pm.classes:
        if c.n_running:
            expr.add(pm.evicted[c.index], -w_evict * rank[int(prio[c.rep])])
            expr.add(Lin([pm.moved[c.index]], [1]), -w_move)
    return Stage("disruption+packing", expr)


def _packing(pm: PlacementModel) -> tuple[Lin, int]:
    m = pm.model
    if pm.topo.problem.packing == PACKING_MOST:
        used = []
        for entries in pm.by_node.values():
            u = new_var(m, 0, 1)
            big = sum(pm.ub[e] for e in entries)
            add_linear(m, [pm.y[e] for e in entries] + [u], [1] * len(entries) + [-big], ub=0)
            used.append(u)
            pm.derived.append((u, partial(_any_used, entries)))
        return Lin.total(used), pm.topo.cc.n_nodes
    u = new_var(m, 0, PERCENT)
    cap = pm.topo.cc.capacity
    req = pm.topo.cc.requests
    rows: list[tuple[list[tuple[tuple[int, Slot], int]], int]] = []
    for n, entries in pm.by_node.items():
        for r in range(cap.shape[1]):
            coeffs = [PERCENT * int(req[pm.classes[c].rep, r]) for c, _ in entries]
            if cap[n, r] > 0 and any(coeffs):
                add_linear(m, [pm.y[e] for e in entries] + [u], coeffs + [-int(cap[n, r])], ub=0)
                rows.append((list(zip(entries, coeffs, strict=True)), int(cap[n, r])))
    pm.derived.append((u, partial(_peak_percent, rows)))
    return Lin([u], [1]), PERCENT


def _any_used(entries: list[tuple[int, Slot]], counts: Mapping[tuple[int, Slot], int]) -> int:
    """The value of a node's ``used`` flag for ``counts``."""
    return int(any(counts.get(e, 0) > 0 for e in entries))


def _peak_percent(
    rows: list[tuple[list[tuple[tuple[int, Slot], int]], int]],
    counts: Mapping[tuple[int, Slot], int],
) -> int:
    """The least value of the peak-utilization variable for ``counts``."""
    peak = 0
    for terms, cap in rows:
        peak = max(peak, -(-sum(q * counts.get(e, 0) for e, q in terms) // cap))
    return min(peak, PERCENT)
