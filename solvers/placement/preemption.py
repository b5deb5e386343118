"""kube-scheduler's default preemption (DefaultPreemption plugin, kubernetes
v1.29 ``pkg/scheduler/framework/plugins/defaultpreemption``), with
disruption budgets as hard limits:

1. a node is a candidate when removing every lower-priority pod that may be
   evicted (and whose owner's budget is not spent) lets the preemptor fit;
2. on each candidate, victims are reprieved from the highest priority down:
   a pod is put back when the preemptor still fits; the rest are the victims
   (the minimal set on that node in kube's sense);
3. nodes are compared by, in order: the lowest highest-victim priority, the
   smallest sum of victim priorities, the fewest victims, snapshot order.

Like kube-scheduler, at most ``max(MIN_CANDIDATES, N * CANDIDATE_PERCENT /
100)`` candidate nodes are examined (its ``minCandidateNodesAbsolute`` and
``minCandidateNodesPercentage`` defaults), in snapshot order here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from optsched.solvers.placement.state import ClusterState

MIN_CANDIDATES = 100
CANDIDATE_PERCENT = 10


@dataclass(frozen=True)
class Preemption:
    node: int
    victims: tuple[int, ...]

    def rank(self, priority: np.ndarray) -> tuple[int, int, int, int]:
        pr = [int(priority[v]) for v in self.victims]
        return (max(pr, default=-(2**62)), sum(pr), len(pr), self.node)


def find_preemption(
    state: ClusterState,
    m: int,
    evictable: np.ndarray,
    owner_of: list[str],
    budget_left: Mapping[str, int],
) -> Preemption | None:
    """The best node and victims for item ``m``, or None. ``evictable``
    already leaves out items whose owner's disruption budget is spent."""
    topo = state.topo
    prio = topo.cc.priority
    potential = (state.node_of >= 0) & (prio < prio[m]) & evictable
    freed = np.zeros_like(state.free)
    np.add.at(freed, state.node_of[potential], topo.cc.requests[potential])
    cands = np.nonzero(
        topo.arrival_ok(m) & ((state.free + freed) >= topo.cc.requests[m]).all(axis=1)
    )[0]
    limit = max(MIN_CANDIDATES, topo.cc.n_nodes * CANDIDATE_PERCENT // 100)
    pot = np.nonzero(potential)[0]
    pot = pot[np.argsort(state.node_of[pot], kind="stable")]
    bounds = np.searchsorted(state.node_of[pot], [cands[:limit], cands[:limit] + 1])
    best: Preemption | None = None
    for k, n in enumerate(cands[:limit]):
        victims = pot[bounds[0][k] : bounds[1][k]]
        found = _victims_on_node(state, m, int(n), victims, owner_of, budget_left)
        if found is not None and (best is None or found.rank(prio) < best.rank(prio)):
            best = found
    return best


def _victims_on_node(
    state: ClusterState,
    m: int,
    n: int,
    potential: np.ndarray,
    owner_of: list[str],
    budget_left: Mapping[str, int],
) -> Preemption | None:
    if not state.topo.terms and not state.topo.numa:
        victims = _victims_by_capacity(state, m, n, potential)
    else:
        victims = _victims_by_state(state, m, n, potential)
    if victims is None:
        return None
    spent: dict[str, int] = {}
    for v in victims:
        spent[owner_of[v]] = spent.get(owner_of[v], 0) + 1
    if any(k > budget_left.get(o, k) for o, k in spent.items()):
        return None
    return Preemption(n, tuple(victims))


def _victims_by_capacity(
    state: ClusterState, m: int, n: int, potential: np.ndarray
) -> list[int] | None:
    """Capacity only (no affinity, no NUMA): the same reprieve loop on arrays."""
    req = state.topo.cc.requests
    prio = state.topo.cc.priority
    free = state.free[n] + req[potential].sum(axis=0)
    if not (free >= req[m]).all():
        return None
    victims: list[int] = []
    for v in sorted((int(v) for v in potential), key=lambda v: (-prio[v], v)):
        if (free - req[v] >= req[m]).all():
            free = free - req[v]  # reprieved: it stays
        else:
            victims.append(v)
    return victims


def _victims_by_state(
    state: ClusterState, m: int, n: int, potential: np.ndarray
) -> list[int] | None:
    prio = state.topo.cc.priority
    saved = {int(v): state.numa_of[int(v)] for v in potential}
    for v in saved:
        state.remove(v)
    if not _fits(state, m, n):
        _restore(state, n, saved)
        return None
    victims: list[int] = []
    for v in sorted(saved, key=lambda v: (-prio[v], v)):
        state.place(v, n, saved[v])
        if not _fits(state, m, n):
            state.remove(v)
            victims.append(v)
    for v in victims:
        state.place(v, n, saved[v])
    return victims


def _fits(state: ClusterState, m: int, n: int) -> bool:
    slot = state.numa_slot(m, n)
    if state.topo.numa and len(state.topo.cc.snapshot.nodes[n].numa) and not slot:
        return False
    return state.fits_on(m, n, slot)


def _restore(state: ClusterState, n: int, saved: Mapping[int, tuple[int, ...]]) -> None:
    for v, numa in saved.items():
        state.place(v, n, numa)
