"""The lexicographic objective of a placement answer, computed from the final
assignment (PodPlacement's docstring gives the order):

1. ``placed``: per priority tier, highest first, the items in the final
   assignment (running items kept or moved count, evicted ones do not);
2. ``eviction_cost``: the sum over evicted items of their tier's rank, 1 for
   the lowest priority present, so evicting higher priority costs more;
3. ``moves``: items whose node (or NUMA nodes) changed;
4. ``packing``: ``most_allocated``: nodes in use; ``least_allocated``: the
   largest utilization percent (ceil) of any resource on any node.

A larger :meth:`LexScore.key` is better. ``primary`` folds level 1 into one
number with dominating weights (each tier weighs more than all lower tiers
together could), the scalar reported as the result's objective.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from optsched.model import Assignment
from optsched.problems import PodPlacement
from optsched.problems.cluster import PACKING_MOST


def tiers(problem: PodPlacement) -> list[int]:
    """Distinct priorities, highest first."""
    return sorted({it.priority for it in problem.snapshot.items}, reverse=True)


def tier_weights(counts: list[int]) -> list[int]:
    """Dominating weights for tiers listed highest first with ``counts``
    items each: the lowest weighs 1, each higher one (all lower counts + 1)."""
    w = [1] * len(counts)
    for k in range(len(counts) - 2, -1, -1):
        w[k] = w[k + 1] * (counts[k + 1] + 1)
    return w


@dataclass(frozen=True)
class LexScore:
    placed: tuple[int, ...]
    eviction_cost: int
    moves: int
    packing: int

    def key(self) -> tuple[tuple[int, ...], int, int, int]:
        return (self.placed, -self.eviction_cost, -self.moves, -self.packing)

    def primary(self, weights: list[int]) -> int:
        return sum(c * w for c, w in zip(self.placed, weights, strict=True))


def evaluate(problem: PodPlacement, final: Mapping[str, Assignment]) -> LexScore:
    snap = problem.snapshot
    order = tiers(problem)
    rank = {p: len(order) - k for k, p in enumerate(order)}
    placed = [0] * len(order)
    evict = moves = 0
    for it in snap.items:
        a = final.get(it.item_id)
        before = snap.assignments.get(it.item_id)
        if a is not None:
            placed[order.index(it.priority)] += 1
            moves += before is not None and before != a
        elif before is not None:
            evict += rank[it.priority]
    return LexScore(tuple(placed), evict, moves, packing_value(problem, final))


def packing_value(problem: PodPlacement, final: Mapping[str, Assignment]) -> int:
    snap = problem.snapshot
    if problem.packing == PACKING_MOST:
        return len({a.node for a in final.values()})
    names = sorted({r for n in snap.nodes for r in n.capacity})
    used = {n.name: np.zeros(len(names), np.int64) for n in snap.nodes}
    for i, a in final.items():
        req = snap.item(i).requests
        used[a.node] += [req[r] for r in names]
    worst = 0
    for n in snap.nodes:
        cap = np.array([n.capacity[r] - n.reserved[r] for r in names])
        pos = cap > 0
        if pos.any():
            worst = max(worst, int((-(-100 * used[n.name][pos] // cap[pos])).max()))
    return worst
