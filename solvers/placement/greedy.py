"""First-fit-decreasing and best-fit-decreasing by dominant resource.

Running items stay where they are (no moves, no evictions). Pending items
are taken by priority (highest first), then by dominant share (largest
first: an item's largest request as a fraction of the cluster's total
capacity of that resource, as in DRF), then in snapshot order. First fit
takes the first feasible node in snapshot order; best fit the feasible node
left with the least of the item's dominant resource free afterwards (ties:
snapshot order). NUMA hosts: the first NUMA node (pair) that fits.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from optsched import names
from optsched.budget import Budget
from optsched.errors import ConfigError
from optsched.problems import PodPlacement
from optsched.problems.base import ProblemKind
from optsched.registry import register
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers.placement.outcome import broken_snapshot, make_result
from optsched.solvers.placement.state import ClusterState, snapshot_state
from optsched.solvers.placement.topology import Topology, build_topology

PLACEMENT_KINDS = frozenset({ProblemKind.POD_PLACEMENT, ProblemKind.VM_PLACEMENT})


def dominant_shares(topo: Topology) -> tuple[np.ndarray, np.ndarray]:
    """([M] largest share, [M] its resource column) against cluster totals."""
    requests = topo.cc.requests
    total = topo.cc.capacity.sum(axis=0)
    shares = requests / np.maximum(total, 1).astype(float)
    empty = total <= 0  # a resource no node offers: any request of it is an infinite share
    if empty.any():
        shares[:, empty] = np.where(requests[:, empty] > 0, np.inf, 0.0)
    return shares.max(axis=1), shares.argmax(axis=1)


def decreasing_order(topo: Topology, share: np.ndarray | None = None) -> list[int]:
    """Pending items by priority, then dominant ``share`` (computed when not
    given), then snapshot order."""
    if share is None:
        share, _ = dominant_shares(topo)
    pending = np.nonzero(topo.cc.node_of < 0)[0].tolist()
    priority, shares = topo.cc.priority.tolist(), share.tolist()
    return sorted(pending, key=lambda m: (-priority[m], -shares[m], m))


def greedy_assign(topo: Topology, best_fit: bool) -> ClusterState:
    state = snapshot_state(topo)
    share, dom = dominant_shares(topo)
    for m in decreasing_order(topo, share):
        mask = state.feasible_nodes(m)
        if not mask.any():
            continue
        if best_fit:
            left = state.free[:, dom[m]] - topo.cc.requests[m, dom[m]]
            n = int(np.argmin(np.where(mask, left, np.iinfo(np.int64).max)))
        else:
            n = int(np.argmax(mask))
        state.place(m, n, state.numa_slot(m, n))
    return state


class _Greedy:
    name: str = ""
    best_fit: bool = False
    capabilities = Capabilities(
        SolverKind.HEURISTIC, PLACEMENT_KINDS, anytime=False, deterministic=True
    )

    def __init__(self, **config: Any) -> None:
        if config:
            raise ConfigError(f"{self.name} takes no options, got {sorted(config)}")

    def solve(self, problem: PodPlacement, budget: Budget) -> SolveResult:
        started = time.monotonic()
        topo = build_topology(problem)
        refused = broken_snapshot(topo, self.name)
        if refused is not None:
            return refused
        state = greedy_assign(topo, self.best_fit)
        return make_result(
            topo,
            state.assignments(),
            solver=self.name,
            status=Status.FEASIBLE,
            wall_time_s=time.monotonic() - started,
        )


@register(names.FIRST_FIT_DECREASING, PLACEMENT_KINDS)
class FirstFitDecreasing(_Greedy):
    name = names.FIRST_FIT_DECREASING
    best_fit = False


@register(names.BEST_FIT_DECREASING, PLACEMENT_KINDS)
class BestFitDecreasing(_Greedy):
    name = names.BEST_FIT_DECREASING
    best_fit = True
