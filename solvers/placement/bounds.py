"""A cheap upper bound on level 1 that holds however the model was pruned.

Relaxation: forget nodes and pool every node's capacity. For the items of
priority tier ``t`` or above, at most ``B_t`` of them fit, where ``B_t`` is,
over each resource, the longest prefix of their requests sorted ascending
whose sum stays within the pooled capacity (the smallest ones are the most
that can fit), and the minimum of that over resources. Level 1 is then at
most the lexicographic maximum of ``x_t <= count_t`` with
``sum_{s<=t} x_s <= B_t``, which the greedy from the top tier attains.
"""

from __future__ import annotations

import numpy as np

from optsched.solvers.placement.score import tier_weights, tiers
from optsched.solvers.placement.topology import Topology


def pooled_placed_bound(topo: Topology) -> tuple[list[int], int]:
    """Upper bounds on items placed per tier (highest first) and on the
    folded level-1 objective (:func:`score.tier_weights`)."""
    order = tiers(topo.problem)
    prio = topo.cc.priority
    req = topo.cc.requests
    pool = topo.cc.capacity.sum(axis=0)
    counts = [int((prio == p).sum()) for p in order]
    xs: list[int] = []
    taken = 0
    for k, p in enumerate(order):
        sel = req[prio >= p]
        cumulative = len(sel)
        for r in range(req.shape[1]):
            col = np.sort(sel[:, r])
            cumulative = min(
                cumulative, int(np.searchsorted(np.cumsum(col), pool[r], side="right"))
            )
        x = max(0, min(counts[k], cumulative - taken))
        xs.append(x)
        taken += x
    weights = tier_weights(counts)
    return xs, sum(x * w for x, w in zip(xs, weights, strict=True))
