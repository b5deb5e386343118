"""Aggregation of interchangeable items into classes, and their slots.

Two items are in one class when nothing in the problem tells them apart:
equal requests, priority, arrival rules (selector, tolerations), namespace
and which affinity terms match them, the terms they hold, the disruption
budget they count against, whether they may move or be evicted, and their
NUMA split. Replicas of one ReplicaSet are the common case. The CP-SAT model
then has one count variable per (class, slot) instead of one boolean per
(item, node).

A slot is where one item sits: a node, and on NUMA hosts in VM placement a
NUMA node or (for a split item) a pair of NUMA nodes.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optsched.solvers.placement.topology import Topology

Slot = tuple[int, tuple[int, ...]]  # node index, NUMA nodes


@dataclass
class ItemClass:
    index: int
    members: list[int]  # item indices, snapshot order
    pending: list[int]
    running: dict[Slot, list[int]] = field(default_factory=dict)  # where members run now
    may_move: bool = True
    may_evict: bool = True
    owner: str = ""  # owner with a disruption budget, else ""

    @property
    def rep(self) -> int:
        return self.members[0]

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def n_running(self) -> int:
        return sum(len(v) for v in self.running.values())

    @property
    def fixed(self) -> bool:
        return not self.may_move and not self.may_evict and not self.pending


def _signature(topo: Topology, m: int, may_move: bool, may_evict: bool) -> tuple[Any, ...]:
    cc = topo.cc
    it = cc.snapshot.items[m]
    budgets = cc.snapshot.disruption_budgets
    return (
        cc.requests[m].tobytes(),
        int(cc.priority[m]),
        int(topo.item_sig[m]),
        it.namespace,
        topo.matches[:, m].tobytes(),
        tuple(topo.anti[m]),
        tuple(topo.aff[m]),
        it.owner if it.owner in budgets else "",
        may_move,
        may_evict,
        bool(cc.numa_split[m]),
    )


def build_classes(topo: Topology) -> list[ItemClass]:
    problem = topo.problem
    snap = topo.cc.snapshot
    groups: dict[tuple[Any, ...], ItemClass] = {}
    for m, it in enumerate(snap.items):
        may_move, may_evict = problem.may_move(it), problem.may_evict(it)
        key = _signature(topo, m, may_move, may_evict)
        c = groups.get(key)
        if c is None:
            owner = it.owner if it.owner in snap.disruption_budgets else ""
            c = groups[key] = ItemClass(len(groups), [], [], {}, may_move, may_evict, owner)
        c.members.append(m)
        a = snap.assignments.get(it.item_id)
        if a is None:
            c.pending.append(m)
        else:
            slot = (snap.node_index[a.node], tuple(a.numa) if topo.numa else ())
            c.running.setdefault(slot, []).append(m)
    return list(groups.values())


def node_slots(topo: Topology, c: ItemClass, n: int) -> list[Slot]:
    """The slots class ``c`` may take on node ``n`` as an arrival."""
    k = len(topo.cc.snapshot.nodes[n].numa) if topo.numa else 0
    if k == 0:
        return [(n, ())]
    if topo.cc.numa_split[c.rep]:
        return [(n, pair) for pair in itertools.combinations(range(k), 2)]
    return [(n, (j,)) for j in range(k)]


def fixed_usage(topo: Topology, classes: list[ItemClass]) -> np.ndarray:
    """[N, R] resources used by items that can neither move nor be evicted."""
    used = np.zeros_like(topo.cc.capacity)
    for c in classes:
        if not c.may_move and not c.may_evict:
            for (n, _), ms in c.running.items():
                used[n] += topo.cc.requests[c.rep] * len(ms)
    return used


def owners(classes: list[ItemClass]) -> dict[str, list[ItemClass]]:
    out: dict[str, list[ItemClass]] = defaultdict(list)
    for c in classes:
        if c.owner:
            out[c.owner].append(c)
    return out
