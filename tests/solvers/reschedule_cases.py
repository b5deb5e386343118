"""Builders of small rescheduling snapshots for the tests (hosts with two
NUMA nodes, VMs with memory proportional to CPU)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from hypothesis import strategies as st

from optsched.datasets.vmr2l import DEPLOYMENT_SET_LABEL
from optsched.metrics import fragment_rate
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
    compile_snapshot,
)
from optsched.problems.cluster import VmRescheduling
from optsched.solvers.reschedule.greedy import greedy
from optsched.solvers.reschedule.state import RescheduleState

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


def plain_node(name: str, cpu: int = 16, *, cluster: str = "c", schedulable: bool = True) -> Node:
    """A host without NUMA layout (one unit)."""
    return Node(
        name,
        Resources.of({CPU_CORES: cpu, MEMORY_MB: cpu * MB_PER_CORE}),
        schedulable=schedulable,
        cluster=cluster,
    )


@st.composite
def instances(draw: st.DrawFn, exotic: bool = True) -> VmRescheduling:
    """2-3 hosts over clusters A and B (NUMA nodes of 8 cores with
    reservations, or, ``exotic``, hosts without NUMA layout), some not
    schedulable or excluded; 1-4 VMs of 1-6 cores, some pinned, and,
    ``exotic``, VMs in another cluster than their host's."""
    n_hosts = draw(st.integers(2, 3))
    hosts: list[Node] = []
    free: dict[tuple[int, int], int] = {}
    for i in range(n_hosts):
        cluster = "A" if i == 0 else draw(st.sampled_from(["A", "B"]))
        schedulable = i == 0 or draw(st.booleans())
        if exotic and draw(st.integers(0, 3)) == 0:
            hosts.append(plain_node(f"h{i}", 12, cluster=cluster, schedulable=schedulable))
            free[(i, 0)] = 12
        else:
            reserved = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
            hosts.append(
                node(f"h{i}", 8, cluster=cluster, schedulable=schedulable, reserved_cpu=reserved)
            )
            free[(i, 0)], free[(i, 1)] = 8 - reserved[0], 8 - reserved[1]
    host_free = [sum(v for (h, _), v in free.items() if h == i) for i in range(n_hosts)]
    mem = {u: v * MB_PER_CORE for u, v in free.items()}
    placed: list[tuple[Item, str, tuple[int, ...]]] = []
    for j in range(draw(st.integers(1, 4))):
        h = draw(st.integers(0, n_hosts - 1))
        cpu, split = draw(st.sampled_from([1, 2, 3, 4, 6])), draw(st.booleans())
        if split:
            cpu += cpu % 2  # the model refuses a split item with an odd request
        numa_host = bool(hosts[h].numa)
        numa: tuple[int, ...] = (
            ((0, 1) if split else (draw(st.integers(0, 1)),)) if numa_host else ()
        )
        units = [(h, k) for k in numa] or [(h, 0)]
        use, use_mem = cpu // len(units), cpu * MB_PER_CORE // len(units)
        if not all(free[u] >= use and mem[u] >= use_mem for u in units) or host_free[h] < cpu:
            continue
        for u in units:
            free[u] -= use
            mem[u] -= use_mem
        host_free[h] -= cpu
        cluster = hosts[h].cluster
        if exotic and draw(st.integers(0, 4)) == 0:
            cluster = draw(st.sampled_from(["A", "B"]))
            if not any(nd.cluster == cluster for nd in hosts):
                cluster = hosts[h].cluster
        movable = j == 0 or draw(st.booleans())
        placed.append(
            (vm(f"v{j}", cpu, split=split, movable=movable, cluster=cluster), f"h{h}", numa)
        )
    excluded = frozenset(
        {f"h{draw(st.integers(0, n_hosts - 1))}"} if draw(st.integers(0, 3)) == 0 else set()
    )
    return problem(
        snapshot(hosts, placed),
        draw(st.integers(1, 2)),
        fragment_cores=draw(st.sampled_from([3, 4])),
        excluded_hosts=excluded,
    )


def brute_force(p: VmRescheduling) -> float:
    """Min fragment rate over every final placement with at most MNL VMs
    displaced (a superset of the plans: a plan may need extra moves to reach
    its final placement), by the metrics module and the compiled snapshot,
    independent of the solvers' state. Anti-affinity is not checked (callers
    use snapshots without it)."""
    snap = p.snapshot
    best = fragment_rate(snap, p.fragment_cores)
    options = [
        [
            Assignment(nd.name, ks)
            for nd in snap.nodes
            for ks in (([(0, 1)] if it.numa_split else [(0,), (1,)]) if nd.numa else [()])
            if nd.numa or not it.numa_split
        ]
        for it in snap.items
    ]
    for k in range(1, p.migration_limit + 1):
        for movers in itertools.combinations(range(len(snap.items)), k):
            for targets in itertools.product(*(options[m] for m in movers)):
                final = dict(snap.assignments)
                for m, a in zip(movers, targets, strict=True):
                    final[snap.items[m].item_id] = a
                if _feasible(p, final):
                    best = min(best, fragment_rate(snap.with_assignments(final), p.fragment_cores))
    return best


def _feasible(p: VmRescheduling, final: dict[str, Assignment]) -> bool:
    snap = p.snapshot
    for it in snap.items:
        a, a0 = final[it.item_id], snap.assignments[it.item_id]
        if a != a0 and (
            not it.movable
            or not p.is_destination(a.node)
            or snap.node(a.node).cluster != it.cluster
        ):
            return False
    cc = compile_snapshot(snap.with_assignments(final))
    return bool((cc.numa_used() <= cc.numa_capacity).all() and (cc.used() <= cc.capacity).all())


def greedy_rate(p: VmRescheduling) -> float:
    """The fragment rate greedy reaches, run to completion (no deadline)."""
    state = RescheduleState.from_problem(p)
    greedy(state, p.migration_limit)
    return state.fragment_rate()
