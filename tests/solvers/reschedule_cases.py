"""Builders of small rescheduling snapshots for the tests (hosts with two
NUMA nodes, VMs with memory proportional to CPU)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from optsched.datasets.vmr2l import DEPLOYMENT_SET_LABEL
from optsched.model import (
    CPU_CORES,
    HOSTNAME_KEY,
    MEMORY_MB,
    AffinityTerm,
    Assignment,
    Item,
    LabelSelector,
    Node,
    NumaNode,
    Resources,
    Snapshot,
)
from optsched.problems.cluster import VmRescheduling

MB_PER_CORE = 2048

Vm = tuple[str, int, str, tuple[int, ...]]  # id, cpu cores, host, NUMA nodes


def node(
    name: str,
    numa_cpu: int = 16,
    *,
    cluster: str = "c",
    schedulable: bool = True,
    reserved_cpu: tuple[int, int] = (0, 0),
) -> Node:
    numa = tuple(
        NumaNode(
            Resources.of({CPU_CORES: numa_cpu, MEMORY_MB: numa_cpu * MB_PER_CORE}),
            Resources.of({CPU_CORES: r, MEMORY_MB: r * MB_PER_CORE}),
        )
        for r in reserved_cpu
    )
    return Node(
        name,
        Resources.of({CPU_CORES: 2 * numa_cpu, MEMORY_MB: 2 * numa_cpu * MB_PER_CORE}),
        numa=numa,
        schedulable=schedulable,
        cluster=cluster,
        reserved=Resources.of(
            {CPU_CORES: sum(reserved_cpu), MEMORY_MB: sum(reserved_cpu) * MB_PER_CORE}
        ),
    )


def vm(
    vm_id: str,
    cpu: int,
    *,
    split: bool = False,
    movable: bool = True,
    cluster: str = "c",
    deployment_set: str | None = None,
) -> Item:
    labels = {DEPLOYMENT_SET_LABEL: deployment_set} if deployment_set else {}
    anti = (
        (AffinityTerm(LabelSelector({DEPLOYMENT_SET_LABEL: deployment_set}), HOSTNAME_KEY),)
        if deployment_set
        else ()
    )
    return Item(
        vm_id,
        Resources.of({CPU_CORES: cpu, MEMORY_MB: cpu * MB_PER_CORE}),
        namespace=cluster,
        labels=labels,
        movable=movable,
        evictable=False,
        anti_affinity=anti,
        numa_split=split,
        kind="vm",
        cluster=cluster,
    )


def snapshot(
    nodes: Sequence[Node], placed: Iterable[tuple[Item, str, tuple[int, ...]]]
) -> Snapshot:
    placed = list(placed)
    return Snapshot(
        tuple(nodes),
        tuple(it for it, _, _ in placed),
        {it.item_id: Assignment(h, numa) for it, h, numa in placed},
    )


def problem(snap: Snapshot, mnl: int, **kw: object) -> VmRescheduling:
    return VmRescheduling(snap, mnl, **kw)  # type: ignore[arg-type]
