"""A numpy view of a snapshot, built once, for solvers' inner loops.

Rows are nodes (``N``) and items (``M``); columns are the resources named in
``resources`` (``R``). NUMA arrays have ``K`` = the largest NUMA count of any
node (nodes with fewer NUMA nodes have zero capacity in the missing slots).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsched.model.cluster import Snapshot
from optsched.model.resources import Resources, resource_names


@dataclass(frozen=True)
class CompiledCluster:
    snapshot: Snapshot
    resources: tuple[str, ...]
    capacity: np.ndarray  # [N, R] int64, node capacity less node-level reservation
    requests: np.ndarray  # [M, R] int64
    node_of: np.ndarray  # [M] int64, -1 when pending
    priority: np.ndarray  # [M] int64
    movable: np.ndarray  # [M] bool
    evictable: np.ndarray  # [M] bool
    schedulable: np.ndarray  # [N] bool
    numa_capacity: np.ndarray  # [N, K, R] int64, NUMA capacity less reservation
    numa_of: np.ndarray  # [M, K] bool: NUMA nodes an item occupies
    numa_split: np.ndarray  # [M] bool

    @property
    def n_nodes(self) -> int:
        return int(self.capacity.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.requests.shape[0])

    def col(self, resource: str) -> int:
        return self.resources.index(resource)

    def used(self) -> np.ndarray:
        """[N, R] resources used by the placed items."""
        used = np.zeros_like(self.capacity)
        placed = self.node_of >= 0
        np.add.at(used, self.node_of[placed], self.requests[placed])
        return used

    def numa_used(self) -> np.ndarray:
        """[N, K, R] per-NUMA use; a split item puts an equal share on each
        of its NUMA nodes."""
        k = self.numa_capacity.shape[1]
        used = np.zeros_like(self.numa_capacity)
        if k == 0:
            return used
        counts = self.numa_of.sum(axis=1)
        for m in np.nonzero((self.node_of >= 0) & (counts > 0))[0]:
            share = self.requests[m] // counts[m]
            for j in np.nonzero(self.numa_of[m])[0]:
                used[self.node_of[m], j] += share
        return used


def compile_snapshot(snapshot: Snapshot, resources: list[str] | None = None) -> CompiledCluster:
    nodes, items = snapshot.nodes, snapshot.items
    names = resources or resource_names(
        [nd.capacity.quantities for nd in nodes] + [it.requests.quantities for it in items]
    )
    n, m, r = len(nodes), len(items), len(names)
    k = max((len(nd.numa) for nd in nodes), default=0)
    # rows are built as Python lists and converted once: cheaper than filling
    # numpy rows one at a time for the small snapshots of a single request
    cap = np.array([_free(nd.capacity, nd.reserved, names) for nd in nodes], dtype=np.int64)
    ncap = np.zeros((n, k, r), dtype=np.int64)
    if k:
        for i, nd in enumerate(nodes):
            for j, nn in enumerate(nd.numa):
                ncap[i, j] = _free(nn.capacity, nn.reserved, names)
    req = np.array(
        [[q.get(name, 0) for name in names] for q in (it.requests.quantities for it in items)],
        dtype=np.int64,
    )
    node_of = np.full(m, -1, dtype=np.int64)
    numa_of = np.zeros((m, k), dtype=bool)
    if snapshot.assignments:
        idx, item_idx = snapshot.node_index, snapshot.item_index
        for item_id, a in snapshot.assignments.items():
            j = item_idx[item_id]
            node_of[j] = idx[a.node]
            for q in a.numa:
                numa_of[j, q] = True
    return CompiledCluster(
        snapshot=snapshot,
        resources=tuple(names),
        capacity=cap.reshape(n, r),
        requests=req.reshape(m, r),
        node_of=node_of,
        priority=np.array([it.priority for it in items], dtype=np.int64),
        movable=np.array([it.movable for it in items], dtype=bool),
        evictable=np.array([it.evictable for it in items], dtype=bool),
        schedulable=np.array([nd.schedulable for nd in nodes], dtype=bool),
        numa_capacity=ncap,
        numa_of=numa_of,
        numa_split=np.array([it.numa_split for it in items], dtype=bool),
    )


def _free(capacity: Resources, reserved: Resources, names: list[str]) -> list[int]:
    """``capacity - reserved`` over ``names`` (a missing resource is 0)."""
    cap, res = capacity.quantities, reserved.quantities
    return [cap.get(name, 0) - res.get(name, 0) for name in names]
