import networkx as nx
from reschedule_cases import node, problem, snapshot, vm

from optsched.results import SolveResult, Status
from optsched.solvers.reschedule.sequencing import sequence, wait_for_graph
from optsched.solvers.reschedule.state import RescheduleState
from optsched.validate import validate


def _swap_case(mnl: int, third_host_excluded: bool = False):  # type: ignore[no-untyped-def]
    # a (12) and b (14) must swap NUMA 0 of h0 and h1; the other NUMA nodes are
    # full of pinned VMs, so neither move fits first: a cycle
    snap = snapshot(
        [node("h0"), node("h1"), node("h2")],
        [
            (vm("a", 12), "h0", (0,)),
            (vm("b", 14), "h1", (0,)),
            (vm("p0", 16, movable=False), "h0", (1,)),
            (vm("p1", 16, movable=False), "h1", (1,)),
        ],
    )
    excluded = frozenset({"h2"}) if third_host_excluded else frozenset()
    p = problem(snap, mnl, excluded_hosts=excluded)
    state = RescheduleState.from_problem(p)
    a, b = state.vm_ids.index("a"), state.vm_ids.index("b")
    return p, state, [(a, 1, (0,)), (b, 0, (0,))]


def _validate(p, state) -> None:  # type: ignore[no-untyped-def]
    report = validate(p, SolveResult(Status.FEASIBLE, "test", plan=state.plan()))
    assert report.ok, report.summary()


def test_cyclic_swap_is_broken_through_a_free_host() -> None:
    p, state, moves = _swap_case(mnl=3)
    assert len(list(nx.simple_cycles(wait_for_graph(state, moves)))) == 1
    out = sequence(state, moves, p.migration_limit)
    assert out.complete and out.parked == 1
    assert len(state.plan().moves) == 3
    assert state.assignment_of(state.vm_ids.index("a")).node == "h1"
    assert state.assignment_of(state.vm_ids.index("b")).node == "h0"
    _validate(p, state)


def test_cycle_is_reported_without_room_or_migrations() -> None:
    for p, state, moves in (_swap_case(mnl=2), _swap_case(mnl=5, third_host_excluded=True)):
        out = sequence(state, moves, p.migration_limit)
        assert not out.complete and "cycle" in out.message
        assert state.plan().moves == []
        _validate(p, state)


def test_moves_beyond_the_limit_are_not_applied() -> None:
    # two independent moves that each fit now, with room for only one migration
    snap = snapshot(
        [node("h0"), node("h1")],
        [(vm("a", 4), "h0", (0,)), (vm("b", 4), "h0", (1,))],
    )
    p = problem(snap, 1)
    state = RescheduleState.from_problem(p)
    a, b = state.vm_ids.index("a"), state.vm_ids.index("b")
    moves = [(a, 1, (0,)), (b, 1, (1,))]
    assert all(state.can_move(v, h, numa) for v, h, numa in moves)
    out = sequence(state, moves, p.migration_limit)
    assert not out.complete and out.unresolved == tuple(moves)
    assert state.plan().moves == []
    _validate(p, state)
