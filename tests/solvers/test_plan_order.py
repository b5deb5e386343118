"""Ordering a plan (solvers/placement/plan.py) on random start and final
states of capacity-only clusters: it ends, reaches the final state, parks an
item at most once, and every step is one the cluster can take (the
validator walks the plan). A parked item could once bounce between two
nodes forever; the plan's length is bounded by the items."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch

from hypothesis import example, given, settings
from hypothesis import strategies as st
from placement_builders import node, pod

from optsched.model import Assignment, Snapshot
from optsched.problems import PodPlacement
from optsched.results import ActionKind, Plan, SolveResult, Status, Unplaced
from optsched.solvers.placement.plan import _Builder, order_plan
from optsched.solvers.placement.topology import build_topology
from optsched.validate import validate

HANG_GUARD_S = 30  # a plan that never ends fails instead of hanging the suite


@contextmanager
def _no_hang() -> Iterator[None]:
    def fail(*_: object) -> None:
        raise AssertionError(f"order_plan did not end within {HANG_GUARD_S} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(HANG_GUARD_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _fill(draw: st.DrawFn, sizes: list[int], caps: list[int], pods: int) -> dict[int, int]:
    """A random assignment of items (by index) to nodes that fits, each
    item placed with probability about 4/5."""
    free = list(caps)
    out: dict[int, int] = {}
    for j, q in enumerate(sizes):
        if draw(st.integers(0, 4)) == 0:
            continue
        n = draw(st.integers(0, len(caps) - 1))
        if free[n] >= q and sum(1 for v in out.values() if v == n) < pods:
            out[j] = n
            free[n] -= q
    return out


@st.composite
def reorderings(draw: st.DrawFn) -> tuple[PodPlacement, dict[str, Assignment]]:
    n_nodes = draw(st.integers(2, 4))
    caps = [draw(st.sampled_from([600, 1000, 1200])) for _ in range(n_nodes)]
    pods = draw(st.integers(2, 5))
    sizes = [draw(st.sampled_from([200, 300, 400, 600])) for _ in range(draw(st.integers(2, 9)))]
    start, final = _fill(draw, sizes, caps, pods), _fill(draw, sizes, caps, pods)
    nodes = tuple(node(f"n{i}", cpu=c, mem=10_000, pods=pods) for i, c in enumerate(caps))
    items = tuple(pod(f"p{j}", cpu=q, mem=10) for j, q in enumerate(sizes))
    where = {f"p{j}": Assignment(f"n{n}") for j, n in start.items()}
    snap = Snapshot(nodes, items, where)
    return PodPlacement(snap), {f"p{j}": Assignment(f"n{n}") for j, n in final.items()}


def _bounce() -> tuple[PodPlacement, dict[str, Assignment]]:
    """a and d leave n0 for n1, b leaves n1 for n0, x and y stay: a cycle.
    Parking a on n2 (room for one) frees too little for b; parked again, a
    went back to n0, its room, and the plan started over, forever."""
    caps = {"n0": 1000, "n1": 1000, "n2": 200}
    nodes = tuple(node(n, cpu=c, mem=10_000, pods=5) for n, c in caps.items())
    sizes = {"a": 200, "d": 200, "x": 400, "b": 600, "y": 400}
    items = tuple(pod(i, cpu=q, mem=10) for i, q in sizes.items())
    start = {"a": "n0", "d": "n0", "x": "n0", "b": "n1", "y": "n1"}
    final = {"a": "n1", "d": "n1", "x": "n0", "b": "n0", "y": "n1"}
    snap = Snapshot(nodes, items, {i: Assignment(n) for i, n in start.items()})
    return PodPlacement(snap), {i: Assignment(n) for i, n in final.items()}


@settings(max_examples=300, deadline=None)
@given(reorderings())
@example(_bounce())
def test_plans_end_reach_the_final_state_and_park_once(
    case: tuple[PodPlacement, dict[str, Assignment]],
) -> None:
    problem, final = case
    with _no_hang():
        plan, _notes = order_plan(build_topology(problem), final)
    snap = problem.snapshot
    assert len(plan.actions) <= 3 * len(snap.items)
    reached = plan.final_assignments(snap)
    assert {i: a.node for i, a in reached.items()} == {i: a.node for i, a in final.items()}
    moves: dict[str, int] = {}
    for a in plan.actions:
        if a.kind is ActionKind.MOVE:
            moves[a.item_id] = moves.get(a.item_id, 0) + 1
    assert all(k <= 2 for k in moves.values())  # parked once, then its move
    report = validate(problem, _as_result(problem, plan, final))
    assert report.ok, report.summary()


def _as_result(problem: PodPlacement, plan: Plan, final: dict[str, Assignment]) -> SolveResult:
    left = [it.item_id for it in problem.snapshot.items if it.item_id not in final]
    unplaced = tuple(Unplaced(i, "not in the final state") for i in left)
    return SolveResult(Status.FEASIBLE, "plan-order", plan=plan, unplaced=unplaced)


@st.composite
def placements_only(draw: st.DrawFn) -> tuple[PodPlacement, dict[str, Assignment]]:
    """Running items stay, pending ones go to random nodes: a final state
    that may or may not fit."""
    problem, start = draw(reorderings())
    snap = problem.snapshot
    n_nodes = len(snap.nodes)
    final = dict(snap.assignments)
    for it in snap.items:
        if it.item_id not in final and draw(st.booleans()):
            final[it.item_id] = Assignment(f"n{draw(st.integers(0, n_nodes - 1))}")
    return problem, final


@settings(max_examples=200, deadline=None)
@given(placements_only())
def test_placing_pending_items_orders_as_the_general_path_does(
    case: tuple[PodPlacement, dict[str, Assignment]],
) -> None:
    """Only placements and no affinity: the plan takes them all in the
    first pass when everything fits, and otherwise goes the general way."""
    problem, final = case
    topo = build_topology(problem)
    plan, notes = order_plan(topo, final)
    with patch.object(_Builder, "_only_placements_that_fit", return_value=False):
        general, general_notes = order_plan(build_topology(problem), final)
    assert plan == general and notes == general_notes
