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
    freed = _sum_by(state.node_of[potential], topo.cc.requests[potential], topo.cc.n_nodes)
    cands = np.nonzero(
        topo.arrival_ok(m) & ((state.free + freed) >= topo.cc.requests[m]).all(axis=1)
    )[0]
    limit = max(MIN_CANDIDATES, topo.cc.n_nodes * CANDIDATE_PERCENT // 100)
    cands = cands[:limit]
    pot = np.nonzero(potential)[0]
    if capacity_only(state):
        return _by_capacity(state, m, cands, pot, owner_of, budget_left)
    pot = pot[np.argsort(state.node_of[pot], kind="stable")]
    bounds = np.searchsorted(state.node_of[pot], [cands, cands + 1])
    best: Preemption | None = None
    for k, n in enumerate(cands):
        victims = pot[bounds[0][k] : bounds[1][k]]
        found = _victims_on_node(state, m, int(n), victims, owner_of, budget_left)
        if found is not None and (best is None or found.rank(prio) < best.rank(prio)):
            best = found
    return best


def _sum_by(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """[n, R] sums of ``values`` rows by ``rows``: ``np.add.at``, ten times faster
    (bincount sums in float64, exact for the integer quantities here, < 2**53)."""
    out = np.empty((n, values.shape[1]), dtype=values.dtype)
    for r in range(values.shape[1]):
        out[:, r] = np.bincount(rows, weights=values[:, r], minlength=n)
    return out


def capacity_only(state: ClusterState) -> bool:
    """Whether fit is a matter of capacity alone (no affinity, no NUMA)."""
    return not state.topo.terms and not state.topo.numa


def _victims_on_node(
    state: ClusterState,
    m: int,
    n: int,
    potential: np.ndarray,
    owner_of: list[str],
    budget_left: Mapping[str, int],
) -> Preemption | None:
    victims = _victims_by_state(state, m, n, potential)
    if victims is None or not _within_budgets(victims, owner_of, budget_left):
        return None
    return Preemption(n, tuple(victims))


def _within_budgets(
    victims: list[int], owner_of: list[str], budget_left: Mapping[str, int]
) -> bool:
    spent: dict[str, int] = {}
    for v in victims:
        spent[owner_of[v]] = spent.get(owner_of[v], 0) + 1
    return all(k <= budget_left.get(o, k) for o, k in spent.items())


def _by_capacity(
    state: ClusterState,
    m: int,
    cands: np.ndarray,
    pot: np.ndarray,
    owner_of: list[str],
    budget_left: Mapping[str, int],
) -> Preemption | None:
    """Capacity only (no affinity, no NUMA): the reprieve loop run on every
    candidate node at once, one victim rank at a time, then the nodes taken
    in rank order until one keeps to the disruption budgets. The same answer
    as :func:`_victims_by_state` on each node (tested), in array operations:
    at 5,000 nodes kube examines 500 candidates per preemption."""
    if not len(cands):
        return None
    cc = state.topo.cc
    req, prio = cc.requests, cc.priority
    slot = np.full(cc.n_nodes, -1, dtype=np.int64)
    slot[cands] = np.arange(len(cands))
    pot = pot[slot[state.node_of[pot]] >= 0]
    # by node, then in reprieve order: highest priority first, then index
    pot = pot[np.lexsort((pot, -prio[pot], slot[state.node_of[pot]]))]
    row = slot[state.node_of[pot]]
    starts = np.searchsorted(row, np.arange(len(cands)))
    col = np.arange(len(pot)) - starts[row]
    width = int(col.max()) + 1 if len(pot) else 0
    idx = np.full((len(cands), width), -1, dtype=np.int64)
    idx[row, col] = pot
    free = state.free[cands] + _sum_by(row, req[pot], len(cands))
    need = req[m]
    victim = np.zeros(idx.shape, dtype=bool)
    for j in range(width):
        v = idx[:, j]
        valid = v >= 0
        r = np.where(valid[:, None], req[v], 0)
        stays = valid & ((free - r) >= need).all(axis=1)
        free[stays] -= r[stays]
        victim[:, j] = valid & ~stays
    none = -(2**62)  # the rank of a node without victims
    top = np.where(victim, prio[idx], none).max(axis=1, initial=none)
    total = np.where(victim, prio[idx], 0).sum(axis=1)
    order = np.lexsort((cands, victim.sum(axis=1), total, top))
    for k in order:  # every candidate fits once all its potential victims are gone
        victims = [int(v) for v in idx[k][victim[k]]]
        if _within_budgets(victims, owner_of, budget_left):
            return Preemption(int(cands[k]), tuple(victims))
    return None


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
