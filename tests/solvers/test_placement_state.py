"""The snapshot state is built once per topology and handed out as copies:
each copy equals a freshly built ClusterState and changes to one never reach
another."""

from __future__ import annotations

import numpy as np
from placement_builders import node, pod, snapshot, vm_host

from optsched.model import HOSTNAME_KEY, AffinityTerm, Item, LabelSelector
from optsched.problems import PodPlacement, VmPlacement
from optsched.solvers.placement.state import ClusterState, snapshot_state
from optsched.solvers.placement.topology import Topology, build_topology


def _same(a: ClusterState, b: ClusterState) -> bool:
    arrays = ("free", "numa_free", "node_of")
    return (
        all(np.array_equal(getattr(a, k), getattr(b, k)) for k in arrays)
        and a.numa_of == b.numa_of
        and all(np.array_equal(x, y) for x, y in zip(a.match_count, b.match_count, strict=True))
        and all(np.array_equal(x, y) for x, y in zip(a.holders, b.holders, strict=True))
        and a.peer_count.keys() == b.peer_count.keys()
        and all(np.array_equal(a.peer_count[k], b.peer_count[k]) for k in a.peer_count)
    )


def _pods_with_terms() -> Topology:
    spread = AffinityTerm(LabelSelector({"app": "web"}), HOSTNAME_KEY)
    near = AffinityTerm(LabelSelector({"app": "db"}), HOSTNAME_KEY)
    items = [
        pod("web-0", labels={"app": "web"}, anti_affinity=(spread,)),
        pod("db-0", labels={"app": "db"}),
        pod("web-1", labels={"app": "web"}, anti_affinity=(spread,), affinity=(near,)),
    ]
    snap = snapshot([node("a"), node("b")], items, {"web-0": "a", "db-0": "b"})
    return build_topology(PodPlacement(snap))


def _vms() -> Topology:
    items = [Item("v0", {"cpu_cores": 2, "memory_mb": 10}), Item("v1", {"cpu_cores": 2})]
    snap = snapshot([vm_host("h0", 4), vm_host("h1", 4)], items)
    return build_topology(VmPlacement(snap))


def test_copies_equal_a_fresh_state_and_are_independent() -> None:
    for topo in (_pods_with_terms(), _vms()):
        first, second = snapshot_state(topo), snapshot_state(topo)
        assert _same(first, ClusterState(topo))
        m = int(np.nonzero(first.node_of < 0)[0][0])
        n = int(np.argmax(first.feasible_nodes(m)))
        first.place(m, n, first.numa_slot(m, n))
        assert not _same(first, second)
        assert _same(second, ClusterState(topo))
        assert _same(snapshot_state(topo), ClusterState(topo))
