"""Random small rescheduling problems for the learned-solver tests: hosts with
zero or two NUMA nodes, several clusters, racks, taints, node selectors,
unschedulable and excluded hosts, split and odd VMs, deployment sets (host or
rack anti-affinity) and disruption budgets."""

from __future__ import annotations

from hypothesis import strategies as st

from optsched.model import (
    CPU_CORES,
    HOSTNAME_KEY,
    MEMORY_MB,
    RACK_KEY,
    AffinityTerm,
    Assignment,
    Item,
    LabelSelector,
    Node,
    NumaNode,
    Resources,
    Snapshot,
    Taint,
    Toleration,
)
from optsched.problems import VmRescheduling

SET_LABEL = "set"


def _node(i: int, numa_cpu: int, flat: bool, draw: st.DrawFn) -> Node:
    mem = draw(st.sampled_from([32, 64, 128]))
    reserved = [draw(st.sampled_from([0, 0, 2])) for _ in range(2)]
    numa = (
        ()
        if flat
        else tuple(
            NumaNode(
                Resources.of({CPU_CORES: numa_cpu, MEMORY_MB: mem}), Resources.of({CPU_CORES: r})
            )
            for r in reserved
        )
    )
    taints = (Taint("gpu", "yes"),) if draw(st.integers(0, 5)) == 0 else ()
    return Node(
        f"h{i}",
        Resources.of({CPU_CORES: 2 * numa_cpu, MEMORY_MB: 2 * mem}),
        labels={RACK_KEY: f"r{i // 2}", "disk": draw(st.sampled_from(["ssd", "hdd"]))},
        taints=taints,
        numa=numa,
        schedulable=draw(st.integers(0, 6)) > 0,
        cluster=f"c{i % 2}" if draw(st.booleans()) else "c0",
        reserved=Resources.of({CPU_CORES: 0 if flat else sum(reserved)}),
    )


def _vm(j: int, cluster: str, split: bool, draw: st.DrawFn) -> Item:
    cpu = draw(st.sampled_from([1, 2, 3, 4, 8] if not split else [2, 4, 6, 8]))
    group = draw(st.sampled_from([None, None, "a", "b"]))
    key = draw(st.sampled_from([HOSTNAME_KEY, RACK_KEY]))
    anti = (AffinityTerm(LabelSelector({SET_LABEL: group}), key),) if group else ()
    return Item(
        f"v{j}",
        Resources.of({CPU_CORES: cpu, MEMORY_MB: draw(st.sampled_from([2, 4, 8]))}),
        namespace=cluster,
        owner=draw(st.sampled_from(["", "o1", "o2"])),
        labels={SET_LABEL: group} if group else {},
        movable=draw(st.integers(0, 8)) > 0,
        evictable=False,
        tolerations=(Toleration("gpu", "Equal", "yes"),) if draw(st.booleans()) else (),
        node_selector={"disk": "ssd"} if draw(st.integers(0, 6)) == 0 else {},
        anti_affinity=anti,
        numa_split=split,
        kind="vm",
        cluster=cluster,
    )


@st.composite
def problems(draw: st.DrawFn) -> VmRescheduling:
    """A small problem whose initial state may itself be fragmented or
    crowded; VMs are placed greedily where they fit (capacity only)."""
    n_hosts = draw(st.integers(2, 6))
    numa_cpu = draw(st.sampled_from([8, 12, 16]))
    nodes = [_node(i, numa_cpu, draw(st.integers(0, 7)) == 0, draw) for i in range(n_hosts)]
    free = {(n.name, k): numa_cpu - 2 for n in nodes for k in range(max(len(n.numa), 1))}
    items, assignments = [], {}
    for j in range(draw(st.integers(1, 14))):
        host = nodes[draw(st.integers(0, n_hosts - 1))]
        split = bool(host.numa) and draw(st.integers(0, 4)) == 0
        item = _vm(j, host.cluster, split, draw)
        cpu = item.requests[CPU_CORES]
        slots = (0, 1) if split else (draw(st.integers(0, 1)) if host.numa else 0,)
        need = -(-cpu // len(slots))
        if any(free[(host.name, k)] < need for k in slots):
            continue
        for k in slots:
            free[(host.name, k)] -= need
        items.append(item)
        assignments[item.item_id] = Assignment(host.name, slots if host.numa else ())
    budgets = {"o1": draw(st.integers(0, 2))} if draw(st.booleans()) else {}
    snap = Snapshot(tuple(nodes), tuple(items), assignments, budgets)
    excluded = frozenset(n.name for n in nodes if draw(st.integers(0, 5)) == 0)
    return VmRescheduling(
        snap,
        migration_limit=draw(st.integers(1, 6)),
        fragment_cores=draw(st.sampled_from([4, 8, 16])),
        excluded_hosts=excluded,
        memory_aware=draw(st.booleans()),
        memory_per_core_mb=2,
    )
