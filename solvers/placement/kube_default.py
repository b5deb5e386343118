"""An emulation of the Kubernetes default scheduler, the baseline the CP-SAT
model is measured against.

Pending pods are taken one at a time from a queue ordered as kube's
PrioritySort (highest priority first, then snapshot order standing in for
creation time). Each is filtered (:meth:`ClusterState.feasible_nodes`: fit
of every resource incl. pod count and extended resources, nodeSelector,
taints, required (anti-)affinity) and bound to the node with the highest
NodeResourcesFit(LeastAllocated) + BalancedAllocation score
(:mod:`.kube_score`); ties go to the first node in snapshot order (kube picks
at random among ties; a fixed rule keeps runs reproducible). When no node
fits, default preemption (:mod:`.preemption`) evicts the victims on the best
node and binds the pod there. A victim that may move is recreated by its
controller and re-enters the queue, as a ReplicaSet's pod would; placed
elsewhere it counts as a move, otherwise as an eviction.
"""

from __future__ import annotations

import heapq
import time
from typing import Any

import numpy as np

from optsched import names
from optsched.budget import Budget
from optsched.errors import ConfigError
from optsched.problems import PodPlacement
from optsched.registry import register
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers.placement.greedy import PLACEMENT_KINDS
from optsched.solvers.placement.kube_score import (
    balanced_allocation,
    least_allocated,
    nonzero_requests,
    scored_columns,
)
from optsched.solvers.placement.outcome import broken_snapshot, make_result
from optsched.solvers.placement.preemption import find_preemption
from optsched.solvers.placement.state import ClusterState, snapshot_state
from optsched.solvers.placement.topology import Topology, build_topology


def kube_schedule(topo: Topology, preemption: bool = True) -> ClusterState:
    return kube_schedule_until(topo, preemption, None)[0]


def kube_schedule_until(
    topo: Topology, preemption: bool, deadline: float | None
) -> tuple[ClusterState, bool]:
    """The emulation, stopped at ``deadline`` (monotonic) if given: the pods
    still queued then stay pending. Returns the state and whether the queue
    was emptied."""
    problem = topo.problem
    snap = topo.cc.snapshot
    state = snapshot_state(topo)
    cols = scored_columns(topo)
    nz = nonzero_requests(topo, cols)
    nz_used = np.zeros((topo.cc.n_nodes, len(cols)), dtype=np.int64)
    np.add.at(nz_used, state.node_of[state.node_of >= 0], nz[state.node_of >= 0])
    alloc = topo.cc.capacity[:, cols]
    evictable = np.array([problem.may_evict(it) for it in snap.items], dtype=bool)
    owner_of = [it.owner for it in snap.items]
    budget_left = dict(snap.disruption_budgets)
    owners = sorted(budget_left)
    slot = {o: k + 1 for k, o in enumerate(owners)}
    owner_idx = np.array([slot.get(o, 0) for o in owner_of], dtype=np.int64)
    budget_arr = np.array(
        [1, *(budget_left[o] for o in owners)], dtype=np.int64
    )  # slot 0: no budget
    moves_left = problem.max_moves if problem.max_moves is not None else len(snap.items)
    queue: list[tuple[int, int]] = [
        (-int(topo.cc.priority[m]), int(m)) for m in np.nonzero(state.node_of < 0)[0]
    ]
    heapq.heapify(queue)
    while queue:
        if deadline is not None and time.monotonic() >= deadline:
            return state, False
        _, m = heapq.heappop(queue)
        mask = state.feasible_nodes(m)
        if mask.any():
            cand = np.nonzero(mask)[0]
            score = least_allocated(alloc[cand], nz_used[cand] + nz[m]) + balanced_allocation(
                alloc[cand], alloc[cand] - state.free[cand][:, cols] + topo.cc.requests[m, cols]
            )
            n = int(cand[int(np.argmax(score))])
        elif preemption and problem.allow_evictions:
            found = find_preemption(
                state, m, evictable & _budget_ok(owner_idx, budget_arr), owner_of, budget_left
            )
            if found is None:
                continue
            n = found.node
            for v in found.victims:
                state.remove(v)
                nz_used[n] -= nz[v]
                o = owner_of[v]
                if o in budget_left:
                    budget_left[o] -= 1
                    budget_arr[owner_idx[v]] -= 1
                if problem.may_move(snap.items[v]) and moves_left > 0:
                    moves_left -= 1
                    heapq.heappush(queue, (-int(topo.cc.priority[v]), int(v)))
        else:
            continue
        state.place(m, n, state.numa_slot(m, n))
        nz_used[n] += nz[m]
    return state, True


def _budget_ok(owner_idx: np.ndarray, budget_arr: np.ndarray) -> np.ndarray:
    """[M] items whose owner's disruption budget is not spent (slot 0 of
    ``budget_arr`` stands for owners without a budget and stays positive)."""
    return np.asarray(budget_arr[owner_idx] > 0)


@register(names.KUBE_DEFAULT, PLACEMENT_KINDS)
class KubeDefault:
    name = names.KUBE_DEFAULT
    capabilities = Capabilities(
        SolverKind.HEURISTIC, PLACEMENT_KINDS, anytime=False, deterministic=True
    )

    def __init__(self, preemption: bool = True, **config: Any) -> None:
        if config:
            raise ConfigError(f"{self.name}: unknown options {sorted(config)}")
        self.preemption = bool(preemption)

    def solve(self, problem: PodPlacement, budget: Budget) -> SolveResult:
        started = time.monotonic()
        topo = build_topology(problem)
        refused = broken_snapshot(topo, self.name)
        if refused is not None:
            return refused
        state = kube_schedule(topo, self.preemption)
        return make_result(
            topo,
            state.assignments(),
            solver=self.name,
            status=Status.FEASIBLE,
            wall_time_s=time.monotonic() - started,
        )
