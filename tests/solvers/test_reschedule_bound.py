"""The fragment-rate lower bound (:mod:`optsched.solvers.reschedule.bound`)
against brute force and against every validated solver answer."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from reschedule_cases import brute_force, instances, node, problem, snapshot, vm

from optsched.budget import Budget
from optsched.problems.cluster import VmRescheduling
from optsched.registry import create
from optsched.results import Status
from optsched.solvers.reschedule import cpsat_model as cpm
from optsched.solvers.reschedule.bound import remainder_bound
from optsched.solvers.reschedule.classes import disaggregate, vm_classes
from optsched.solvers.reschedule.exact import CpsatArgs, optimize
from optsched.solvers.reschedule.state import RescheduleState
from optsched.solvers.reschedule.wrap_bound import applies, max_wraps, wrap_remainder
from optsched.validate import validate

SOLVERS = ("greedy-reschedule", "cpsat-reschedule", "lns-reschedule")
DETERMINISTIC = {"num_workers": 1, "random_seed": 0}


@settings(max_examples=300, deadline=None)
@given(instances())
def test_bound_never_exceeds_the_brute_force_optimum(p: VmRescheduling) -> None:
    state = RescheduleState.from_problem(p)
    lb = remainder_bound(state)
    assert lb is not None
    best = brute_force(p)
    assert lb.rate <= best + 1e-12
    assert lb.frag <= state.frag_sum  # the start is a plan
    if lb.proves(state.frag_sum, state.free_sum):
        assert state.fragment_rate() == pytest.approx(best)


@settings(max_examples=300, deadline=None)
@given(instances(exotic=True))
def test_wrap_bound_alone_never_exceeds_the_brute_force_optimum(p: VmRescheduling) -> None:
    state = RescheduleState.from_problem(p)
    wrap = wrap_remainder(state, p.migration_limit)
    if wrap is None:
        assert not applies(state)
        return
    assert 0 <= wrap <= state.frag_sum
    assert (state.frag_sum - wrap) % p.fragment_cores == 0
    assert wrap <= brute_force(p) * state.free_sum + 1e-9
    assert max_wraps(state, 0) == 0


def test_wrap_bound_counts_the_moves_each_wrap_needs() -> None:
    # three NUMA nodes with 12 of 16 free, each holding two 2-core VMs (two
    # moves per wrap) and one with 14 free holding a 2-core VM (one move);
    # the fourth node of the fourth host is full. MNL 3: the one-move wrap
    # and one two-move wrap at most, so R >= R0 - 2 F.
    nodes = [node(f"h{i}") for i in range(4)]
    placed = [(vm(f"v{i}{j}", 2), f"h{i}", (0,)) for i in range(3) for j in range(2)]
    placed += [(vm("w", 2), "h3", (0,)), (vm("full", 16, movable=False), "h3", (1,))]
    p = problem(snapshot(nodes, placed), 3)
    state = RescheduleState.from_problem(p)
    assert max_wraps(state, 3) == 2 and max_wraps(state, 1) == 1 and max_wraps(state, 7) == 4
    assert wrap_remainder(state, 3) == state.frag_sum - 2 * 16
    lb = remainder_bound(state)
    assert lb is not None and lb.frag >= state.frag_sum - 2 * 16 and lb.wrap is not None


@settings(max_examples=40, deadline=None)
@given(instances())
def test_without_migrations_the_bound_is_the_start(p: VmRescheduling) -> None:
    # MNL 0: only the start state is reachable, and the bound must find it exactly
    state = RescheduleState.from_problem(p)
    lb = remainder_bound(state, 0)
    assert lb is not None
    assert lb.frag == state.frag_sum
    assert lb.proves(state.frag_sum, state.free_sum)


@settings(max_examples=12, deadline=None)
@given(instances(exotic=True))
def test_bound_never_exceeds_a_validated_solver_answer(p: VmRescheduling) -> None:
    lb = remainder_bound(RescheduleState.from_problem(p))
    assert lb is not None
    for name in SOLVERS:
        solver = create(name) if name.startswith("greedy") else create(name, **DETERMINISTIC)
        result = solver.solve(p, Budget(0.5))
        report = validate(p, result)
        assert report.ok, report.summary()
        assert report.objective is not None
        assert lb.rate <= report.objective + 1e-12
        if result.best_bound is not None:
            assert result.best_bound <= report.objective + 1e-12
        if result.status is Status.OPTIMAL:
            assert report.objective == pytest.approx(brute_force(p))


def test_exact_reports_the_bound_and_proves_with_it() -> None:
    # four 16-core NUMA nodes, each 4 cores short of a whole slot; one move of
    # a 4-core VM can fix two of them, and MNL 1 allows one: the bound (two
    # nodes stay fragmented at best) proves the greedy move optimal
    snap = snapshot(
        [node(f"h{i}") for i in range(2)],
        [
            (vm("a", 4), "h0", (0,)),
            (vm("b", 8), "h0", (1,)),
            (vm("c", 4), "h1", (0,)),
            (vm("d", 8), "h1", (1,)),
        ],
    )
    p = problem(snap, 1)
    state = RescheduleState.from_problem(p)
    lb = remainder_bound(state)
    assert lb is not None and lb.conserved
    best = brute_force(p)
    assert lb.rate == pytest.approx(best)
    result = create("cpsat-reschedule", **DETERMINISTIC).solve(p, Budget(5.0))
    report = validate(p, result)
    assert report.ok, report.summary()
    assert result.status is Status.OPTIMAL
    assert report.objective == pytest.approx(best)
    assert result.best_bound == pytest.approx(best) and result.gap == pytest.approx(0.0)
    assert result.stats["bound_frag"] == lb.frag


@pytest.mark.parametrize("mnl", [10, 50])
def test_bound_on_the_shipped_medium_snapshot(mnl: int) -> None:
    from optsched.datasets.vmr2l import load_shipped

    p = VmRescheduling(load_shipped("medium"), mnl)
    state = RescheduleState.from_problem(p)
    lb = remainder_bound(state)
    assert lb is not None and lb.conserved
    assert 0 < lb.rate < state.fragment_rate()
    result = create("greedy-reschedule").solve(p, Budget(5.0))
    report = validate(p, result)
    assert report.ok, report.summary()
    assert report.objective is not None and lb.rate <= report.objective


@settings(max_examples=25, deadline=None)
@given(instances(exotic=True))
def test_the_cut_keeps_the_optimum(p: VmRescheduling) -> None:
    # the class model with the bound as a cut still finds the brute-force optimum
    start = RescheduleState.from_problem(p)
    lb = remainder_bound(start)
    assert lb is not None
    classes = vm_classes(start, np.arange(start.n_vms))
    cm = cpm.build(start, classes, np.arange(start.n_hosts), p.migration_limit)
    opt = optimize(cm, start, time.monotonic() + 60, CpsatArgs(num_workers=1, bound_cut=True), lb)
    assert opt.proven and opt.values is not None
    end = start.copy()
    for v, h, numa in disaggregate(start, classes, cm.counts(opt.values)):
        end.move(v, h, numa, check=False)
    assert end.fragment_rate() == pytest.approx(brute_force(p))
