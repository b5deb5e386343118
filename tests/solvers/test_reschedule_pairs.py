"""Pair moves (:mod:`optsched.solvers.reschedule.pairs`): each kind on a
hand-built cluster where no single move improves, and properties on random
ones. Every plan goes through the validator."""

import time

import pytest
from hypothesis import given, settings
from reschedule_cases import greedy_rate, instances, node, problem, snapshot, vm

from optsched.budget import Budget
from optsched.model import Item
from optsched.problems.cluster import VmRescheduling
from optsched.registry import create
from optsched.results import Status
from optsched.solvers.reschedule.greedy import greedy
from optsched.solvers.reschedule.pairs import best_pair, improve
from optsched.solvers.reschedule.result import state_result
from optsched.solvers.reschedule.state import RescheduleState
from optsched.validate import validate

Placed = tuple[Item, str, tuple[int, ...]]


def _fill(name: str, host: str, numa: int, cpu: int) -> Placed:
    """A pinned VM that sets how much of a 16-core NUMA node is free."""
    return (vm(name, cpu, movable=False), host, (numa,))


def _two_small_on_one_node(
    mnl: int, a: Item | None = None, b: Item | None = None
) -> VmRescheduling:
    """h0/0 has 12 of 16 free with two 2-core VMs (``a``, ``b``); h1 has 2
    free on each node. One VM leaving only shifts 2 cores of remainder; both
    leaving free h0/0."""
    return problem(
        snapshot(
            [node("h0"), node("h1")],
            [
                (a or vm("a", 2), "h0", (0,)),
                (b or vm("b", 2), "h0", (0,)),
                _fill("f0", "h0", 1, 16),
                _fill("f1", "h1", 0, 14),
                _fill("f2", "h1", 1, 14),
            ],
        ),
        mnl,
    )


def _improved(p: VmRescheduling) -> RescheduleState:
    """The cluster after :func:`improve`, its plan checked by the validator."""
    state = RescheduleState.from_problem(p)
    fr0 = state.fragment_rate()
    improve(state, p.migration_limit)
    result = state_result(
        state, solver="pairs", status=Status.FEASIBLE, started=time.monotonic(), fr_before=fr0
    )
    report = validate(p, result)
    assert report.ok, report.summary()
    assert report.objective == pytest.approx(state.fragment_rate())
    return state


def _single_moves_do_not_help(p: VmRescheduling) -> None:
    state = RescheduleState.from_problem(p)
    assert greedy(state, p.migration_limit) == 0


def test_two_vms_leave_one_node_together() -> None:
    p = _two_small_on_one_node(2)
    _single_moves_do_not_help(p)
    state = _improved(p)
    assert state.fragment_rate() == pytest.approx(0.0)
    assert sorted(a.item_id for a in state.plan().moves) == ["a", "b"]


def test_two_split_vms_leave_one_host_together() -> None:
    p = problem(
        snapshot(
            [node("h0"), node("h1"), node("h2")],
            [
                (vm("a", 4, split=True), "h0", (0, 1)),
                (vm("b", 4, split=True), "h0", (0, 1)),
                *(_fill(f"f{h}{k}", f"h{h}", k, 14) for h in (1, 2) for k in (0, 1)),
            ],
        ),
        2,
    )
    _single_moves_do_not_help(p)
    assert _improved(p).fragment_rate() == pytest.approx(0.0)


def test_two_vms_fill_one_block_together() -> None:
    # 8-core VMs on hosts that are not destinations (drained), each on a
    # node with 8 free; the only destination has one empty 16-core node. One
    # VM moving there completes a fragment at its source and breaks one at
    # the destination; both moving complete two and break none.
    p = problem(
        snapshot(
            [node("h0"), node("h1"), node("h2")],
            [
                (vm("a", 8), "h0", (0,)),
                (vm("b", 8), "h1", (0,)),
                _fill("f0", "h0", 1, 16),
                _fill("f1", "h1", 1, 16),
                _fill("f2", "h2", 1, 16),
            ],
        ),
        2,
        excluded_hosts=frozenset({"h0", "h1"}),
    )
    _single_moves_do_not_help(p)
    state = _improved(p)
    assert state.fragment_rate() == pytest.approx(0.0)
    assert {m.target.node for m in state.plan().moves} == {"h2"}  # type: ignore[union-attr]


def test_a_vm_leaves_to_make_room_for_another() -> None:
    # h0/0 has 6 free with a 2-core VM; an 8-core VM sits on drained h1 with
    # 8 free; h2/0 has 2 free. The 2-core VM leaving is neutral and the
    # 8-core one fits nowhere, until the first has left h0/0.
    p = problem(
        snapshot(
            [node("h0"), node("h1"), node("h2")],
            [
                (vm("small", 2), "h0", (0,)),
                _fill("f0", "h0", 0, 8),
                _fill("f1", "h0", 1, 16),
                (vm("big", 8), "h1", (0,)),
                _fill("f2", "h1", 1, 16),
                _fill("f3", "h2", 0, 14),
                _fill("f4", "h2", 1, 16),
            ],
        ),
        2,
        excluded_hosts=frozenset({"h1"}),
    )
    _single_moves_do_not_help(p)
    state = _improved(p)
    assert state.fragment_rate() == pytest.approx(0.0)
    assert [m.item_id for m in state.plan().moves] == ["small", "big"]  # executable order


def test_no_pair_when_one_move_is_left_or_none_helps() -> None:
    assert _improved(_two_small_on_one_node(1)).plan().moves == []
    # with a second move, but b pinned: nothing to pair
    pinned = _two_small_on_one_node(2, b=vm("b", 2, movable=False))
    assert best_pair(RescheduleState.from_problem(pinned)) is None


def test_anti_affinity_is_honoured() -> None:
    # as the first case, but a VM of a's deployment set runs on h1, the only
    # host with room: a may not go there, so no pair helps (b alone is neutral)
    p = problem(
        snapshot(
            [node("h0"), node("h1")],
            [
                (vm("a", 2, deployment_set="s"), "h0", (0,)),
                (vm("b", 2), "h0", (0,)),
                (vm("c", 2, movable=False, deployment_set="s"), "h1", (0,)),
                _fill("f0", "h0", 1, 16),
                _fill("f1", "h1", 0, 12),
                _fill("f2", "h1", 1, 14),
            ],
        ),
        2,
    )
    assert best_pair(RescheduleState.from_problem(p)) is None
    assert _improved(p).plan().moves == []


@settings(max_examples=60, deadline=None)
@given(instances())
def test_never_worse_than_greedy_and_always_valid(p: VmRescheduling) -> None:
    state = _improved(p)
    assert len(state.plan().moves) <= p.migration_limit
    assert state.fragment_rate() <= greedy_rate(p) + 1e-12


@pytest.mark.parametrize("name", ["cpsat-reschedule", "lns-reschedule"])
def test_searching_solvers_start_from_pairs_and_prove_them(name: str) -> None:
    # the out-out case: both start from the pair plan (FR 0), which meets the
    # lower bound, so they answer OPTIMAL without a model or a round
    p = _two_small_on_one_node(2)
    result = create(name, num_workers=1, random_seed=0).solve(p, Budget(2.0))
    report = validate(p, result)
    assert report.ok, report.summary()
    assert report.objective == pytest.approx(0.0)
    assert result.status is Status.OPTIMAL
    assert len(result.plan.moves) == 2  # type: ignore[union-attr]
