"""kube-default's preemption: the array version for capacity-only clusters
picks the same node and victims as the per-node reprieve loop of the
general path (solvers/placement/preemption.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from placement_builders import node, pod

from optsched.model import Assignment, Item, Snapshot
from optsched.problems import PodPlacement
from optsched.solvers.placement import preemption
from optsched.solvers.placement.state import ClusterState
from optsched.solvers.placement.topology import build_topology


@st.composite
def contended(draw: st.DrawFn) -> tuple[ClusterState, int, np.ndarray, list[str], dict[str, int]]:
    n_nodes = draw(st.integers(1, 8))
    nodes = [
        node(f"n{i}", cpu=draw(st.sampled_from([800, 1000, 1600])), pods=draw(st.integers(2, 6)))
        for i in range(n_nodes)
    ]
    free = {nd.name: dict(nd.capacity.quantities) for nd in nodes}
    items: list[Item] = []
    where: dict[str, Assignment] = {}
    for j in range(draw(st.integers(0, 30))):
        it = pod(
            f"p{j}",
            cpu=draw(st.sampled_from([100, 200, 300, 500])),
            mem=draw(st.sampled_from([50, 100, 200])),
            priority=draw(st.integers(0, 3)),
            owner=draw(st.sampled_from(["rs-a", "rs-b", "rs-c", ""])),
            evictable=draw(st.booleans()),
        )
        items.append(it)
        host = f"n{draw(st.integers(0, n_nodes - 1))}"
        if all(free[host][r] >= q for r, q in it.requests.quantities.items()):
            where[it.item_id] = Assignment(host)
            for r, q in it.requests.quantities.items():
                free[host][r] -= q
    items.append(pod("preemptor", cpu=draw(st.sampled_from([300, 600, 900])), priority=4))
    budgets = {o: draw(st.integers(0, 3)) for o in ("rs-a", "rs-b") if draw(st.booleans())}
    state = ClusterState(build_topology(PodPlacement(Snapshot(tuple(nodes), tuple(items), where))))
    evictable = np.array([it.evictable for it in items], dtype=bool)
    owners = [it.owner for it in items]
    return state, len(items) - 1, evictable, owners, budgets


@settings(max_examples=300, deadline=None)
@given(contended())
def test_array_preemption_matches_the_per_node_loop(
    case: tuple[ClusterState, int, np.ndarray, list[str], dict[str, int]],
) -> None:
    state, m, evictable, owners, budgets = case
    assert preemption.capacity_only(state)
    fast = preemption.find_preemption(state, m, evictable, owners, budgets)
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(preemption, "capacity_only", lambda _state: False)
        slow = preemption.find_preemption(state, m, evictable, owners, budgets)
    finally:
        mp.undo()
    assert fast == slow
