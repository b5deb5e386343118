"""Warm-started rescheduling: exact CP-SAT and LNS start from the better of
greedy's plan and a given one (the portfolio passes the learned policy's),
never answer worse than either, and ignore a plan that does not apply."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reschedule_cases import greedy_rate, instances, node, problem, snapshot, vm

from optsched.budget import Budget
from optsched.model import Assignment
from optsched.problems.cluster import VmRescheduling
from optsched.registry import create
from optsched.results import Action, ActionKind, Plan, SolveResult, Status
from optsched.solvers.reschedule.start import replay, starting_state
from optsched.solvers.reschedule.state import RescheduleState
from optsched.validate import validate

DETERMINISTIC = {"num_workers": 1, "random_seed": 0}
WARM = ("cpsat-reschedule", "lns-reschedule")


def _random_plan(p: VmRescheduling, seed: int) -> Plan:
    """A feasible plan of up to MNL random moves (not optimized at all)."""
    rng = np.random.default_rng(seed)
    state = RescheduleState.from_problem(p)
    for _ in range(p.migration_limit):
        options = [
            (v, h, state.placements[k])
            for v in range(state.n_vms)
            for h, k in zip(*np.nonzero(state.target_mask(v)), strict=True)
        ]
        if not options:
            break
        v, h, numa = options[int(rng.integers(len(options)))]
        state.move(v, int(h), numa)
    return state.plan()


def _rate(p: VmRescheduling, plan: Plan) -> float:
    report = validate(p, SolveResult(Status.FEASIBLE, "warm", plan=plan))
    assert report.ok, report.summary()
    return float(report.objective)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", WARM)
@settings(max_examples=12, deadline=None)
@given(p=instances(), seed=st.integers(0, 2**16))
def test_warm_started_answer_validates_and_beats_both_starts(
    name: str, p: VmRescheduling, seed: int
) -> None:
    plan = _random_plan(p, seed)
    warm = SolveResult(Status.FEASIBLE, "warm", plan=plan)
    result = create(name, **DETERMINISTIC).solve_from(p, Budget(0.5), warm)
    report = validate(p, result)
    assert report.ok, report.summary()
    assert report.objective <= _rate(p, plan) + 1e-12
    assert report.objective <= greedy_rate(p) + 1e-12


def _myopic() -> VmRescheduling:
    # NUMA nodes of 16 cores, fragments of 16: free 10 | 10, 6 | 6 and 12 | 12
    snap = snapshot(
        [node("h0"), node("h1"), node("h2")],
        [
            (vm("a", 6), "h0", (0,)),
            (vm("b", 6), "h0", (1,)),
            (vm("c", 10), "h1", (0,)),
            (vm("d", 10), "h1", (1,)),
            (vm("e", 4), "h2", (0,)),
            (vm("f", 4), "h2", (1,)),
        ],
    )
    return problem(snap, 2)


def test_a_better_given_plan_is_the_start_and_stays_the_answer() -> None:
    p = _myopic()
    origin = RescheduleState.from_problem(p)
    best: tuple[float, Plan] | None = None
    for seed in range(200):  # the best random plan is at least as good as greedy's
        plan = _random_plan(p, seed)
        rate = _rate(p, plan)
        if best is None or rate < best[0]:
            best = (rate, plan)
    assert best is not None
    state, source = starting_state(origin, p.migration_limit, None, best[1])
    assert source in ("warm-start", "empty")
    assert state.fragment_rate() == pytest.approx(min(best[0], origin.fragment_rate()))
    for name in WARM:
        warm = SolveResult(Status.FEASIBLE, "warm", plan=best[1])
        result = create(name, **DETERMINISTIC).solve_from(p, Budget(2.0), warm)
        assert validate(p, result).ok
        assert result.objective <= best[0] + 1e-12  # type: ignore[operator]


def _move(item: str, node_name: str, numa: tuple[int, ...]) -> Action:
    return Action(ActionKind.MOVE, item, target=Assignment(node_name, numa))


@pytest.mark.parametrize(
    "actions",
    [
        [_move("ghost", "h1", (0,))],  # unknown VM
        [_move("a", "nowhere", (0,))],  # unknown host
        [_move("c", "h0", (0,)), _move("d", "h0", (0,))],  # c fills h0's node 0, d does not fit
        [_move("a", "h2", (0,)), _move("b", "h2", (1,)), _move("e", "h0", (0,))],  # over MNL
        [Action(ActionKind.EVICT, "a")],
    ],
)
def test_a_plan_that_does_not_apply_is_ignored(actions: list[Action]) -> None:
    p = _myopic()
    origin = RescheduleState.from_problem(p)
    plan = Plan(tuple(actions))
    assert replay(origin, plan, p.migration_limit) is None
    state, source = starting_state(origin, p.migration_limit, None, plan)
    assert source == "empty" and state.plan().actions == ()
    result = create("cpsat-reschedule", **DETERMINISTIC).solve_from(
        p, Budget(2.0), SolveResult(Status.FEASIBLE, "bad", plan=plan)
    )
    assert validate(p, result).ok
    assert result.objective <= greedy_rate(p) + 1e-12  # type: ignore[operator]


def test_replay_applies_a_feasible_plan_to_a_copy() -> None:
    p = _myopic()
    origin = RescheduleState.from_problem(p)
    plan = Plan((_move("c", "h0", (0,)),))  # 10 cores onto a node with 10 free
    state = replay(origin, plan, p.migration_limit)
    assert state is not None
    assert [(a.item_id, a.target) for a in state.plan().actions] == [("c", Assignment("h0", (0,)))]
    assert origin.plan().actions == ()
    assert state.fragment_rate() == pytest.approx(_rate(p, state.plan()))
