"""A numpy view of a snapshot, built once, for solvers' inner loops.

Rows are nodes (``N``) and items (``M``); columns are the resources named in
``resources`` (``R``). NUMA arrays have ``K`` = the largest NUMA count of any
node (nodes with fewer NUMA nodes have zero capacity in the missing slots).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsched.model.cluster import Snapshot
from optsched.model.resources import resource_names


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
    names = resources or resource_names(
        [n.capacity for n in snapshot.nodes] + [it.requests for it in snapshot.items]
    )
    n, m = len(snapshot.nodes), len(snapshot.items)
    k = max((len(nd.numa) for nd in snapshot.nodes), default=0)
    cap = np.zeros((n, len(names)), dtype=np.int64)
    ncap = np.zeros((n, k, len(names)), dtype=np.int64)
    for i, nd in enumerate(snapshot.nodes):
        cap[i] = [nd.capacity[r] - nd.reserved[r] for r in names]
        for j, nn in enumerate(nd.numa):
            ncap[i, j] = [nn.capacity[r] - nn.reserved[r] for r in names]
    req = np.zeros((m, len(names)), dtype=np.int64)
    node_of = np.full(m, -1, dtype=np.int64)
    numa_of = np.zeros((m, k), dtype=bool)
    idx = snapshot.node_index
    for j, it in enumerate(snapshot.items):
        req[j] = [it.requests[r] for r in names]
        a = snapshot.assignments.get(it.item_id)
        if a is not None:
            node_of[j] = idx[a.node]
            for q in a.numa:
                numa_of[j, q] = True
    return CompiledCluster(
        snapshot=snapshot,
        resources=tuple(names),
        capacity=cap,
        requests=req,
        node_of=node_of,
        priority=np.array([it.priority for it in snapshot.items], dtype=np.int64),
        movable=np.array([it.movable for it in snapshot.items], dtype=bool),
        evictable=np.array([it.evictable for it in snapshot.items], dtype=bool),
        schedulable=np.array([nd.schedulable for nd in snapshot.nodes], dtype=bool),
        numa_capacity=ncap,
        numa_of=numa_of,
        numa_split=np.array([it.numa_split for it in snapshot.items], dtype=bool),
    )
