"""Cluster metrics: utilization, the VMR2L fragment rate, and plan counts.

Used by solvers, benchmarks and reports (the validator has its own
implementation of what it checks).

Fragment rate (VMR2L, Ding et al., EuroSys 2025): over the schedulable hosts
and their NUMA nodes, ``sum(free_cpu mod F) / sum(free_cpu)``, with ``F`` the
fragment size in cores (16 by default): the share of free CPU that sits in
pieces too small for an F-core VM. A host without NUMA nodes counts as one
unit. 0 when nothing is free.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from optsched.model.cluster import Snapshot
from optsched.model.compiled import CompiledCluster, compile_snapshot
from optsched.model.resources import CPU_CORES
from optsched.results import Plan

DEFAULT_FRAGMENT_CORES = 16


def free_cpu_units(cc: CompiledCluster, cpu_resource: str = CPU_CORES) -> np.ndarray:
    """Free CPU per (schedulable host, NUMA node) unit, flattened; a host
    without NUMA nodes is one unit."""
    r = cc.col(cpu_resource)
    k = cc.numa_capacity.shape[1]
    hosts = np.nonzero(cc.schedulable)[0]
    if k == 0:
        free = cc.capacity[:, r] - cc.used()[:, r]
        return np.asarray(free[hosts])
    numa_free = cc.numa_capacity[:, :, r] - cc.numa_used()[:, :, r]
    has_numa = cc.numa_capacity[:, :, r].sum(axis=1) > 0
    units: list[np.ndarray] = []
    used = cc.used()[:, r]
    for h in hosts:
        if has_numa[h]:
            units.append(numa_free[h][cc.numa_capacity[h, :, r] > 0])
        else:
            units.append(np.array([cc.capacity[h, r] - used[h]]))
    return np.concatenate(units) if units else np.zeros(0, dtype=np.int64)


def fragment_rate_of_units(free: np.ndarray, fragment_cores: int = DEFAULT_FRAGMENT_CORES) -> float:
    total = float(free.sum())
    if total <= 0:
        return 0.0
    return float((free % fragment_cores).sum()) / total


def fragment_rate(
    snapshot: Snapshot | CompiledCluster,
    fragment_cores: int = DEFAULT_FRAGMENT_CORES,
    cpu_resource: str = CPU_CORES,
) -> float:
    cc = snapshot if isinstance(snapshot, CompiledCluster) else compile_snapshot(snapshot)
    return fragment_rate_of_units(free_cpu_units(cc, cpu_resource), fragment_cores)


def utilization(snapshot: Snapshot | CompiledCluster) -> dict[str, float]:
    """Used / capacity per resource over all nodes."""
    cc = snapshot if isinstance(snapshot, CompiledCluster) else compile_snapshot(snapshot)
    cap = cc.capacity.sum(axis=0)
    used = cc.used().sum(axis=0)
    return {
        r: (float(used[i]) / float(cap[i]) if cap[i] > 0 else 0.0)
        for i, r in enumerate(cc.resources)
    }


def placed_by_priority(
    snapshot: Snapshot, assignments: Mapping[str, object] | None = None
) -> dict[int, int]:
    """Number of placed items per priority (descending priority order)."""
    placed = snapshot.assignments if assignments is None else assignments
    counts = Counter(it.priority for it in snapshot.items if it.item_id in placed)
    return dict(sorted(counts.items(), reverse=True))


def plan_counts(plan: Plan) -> dict[str, int]:
    """Evictions, moves and placements in a plan."""
    return {
        "evictions": len(plan.evictions),
        "moves": len(plan.moves),
        "placements": len(plan.placements),
    }
