"""The configuration bound (:mod:`optsched.solvers.reschedule.config_bound`)
and its plans (:mod:`optsched.solvers.reschedule.config_plan`) against brute
force, the validator and the proven optima of the shipped medium snapshot."""

import time
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reschedule_cases import brute_force, instances, node, problem, snapshot, vm
from scipy.optimize import Bounds, LinearConstraint, milp

from optsched.budget import Budget
from optsched.problems.cluster import VmRescheduling
from optsched.registry import create
from optsched.results import SolveResult, Status
from optsched.solvers.reschedule.bound import remainder_bound
from optsched.solvers.reschedule.config_bound import (
    applies,
    config_bound,
    host_master,
    master_rows,
)
from optsched.solvers.reschedule.config_plan import (
    _integer_master,
    configuration_plan,
    plan_columns,
    recombine,
)
from optsched.solvers.reschedule.config_price import Pricing, price_one
from optsched.solvers.reschedule.pairs import improve
from optsched.solvers.reschedule.state import RescheduleState
from optsched.solvers.reschedule.wrap_bound import wrap_remainder
from optsched.validate import validate


@settings(max_examples=300, deadline=None)
@given(instances(exotic=True))
def test_bound_never_exceeds_the_brute_force_optimum(p: VmRescheduling) -> None:
    state = RescheduleState.from_problem(p)
    cb = config_bound(state, p.migration_limit)
    if cb is None:
        assert not applies(state)
        return
    f, total = p.fragment_cores, state.free_sum
    assert 0 <= cb.frag <= state.frag_sum  # the start is a plan
    assert (total - cb.frag) % f == 0 or cb.frag == total % f
    assert cb.frag <= brute_force(p) * total + 1e-9
    # the combined bound carries it, and is at least as strong
    lb = remainder_bound(state)
    assert lb is not None and lb.config == cb.frag and lb.frag >= cb.frag


@settings(max_examples=60, deadline=None)
@given(instances(exotic=True))
def test_a_deadline_leaves_a_valid_bound(p: VmRescheduling) -> None:
    # stopped after its first round (prices all zero): weak, still valid
    state = RescheduleState.from_problem(p)
    cb = config_bound(state, p.migration_limit, deadline=time.monotonic() - 1.0)
    if cb is None:
        return
    assert cb.rounds == 1
    assert cb.frag <= brute_force(p) * state.free_sum + 1e-9


@settings(max_examples=100, deadline=None)
@given(instances(exotic=True))
def test_configuration_plans_validate(p: VmRescheduling) -> None:
    state = RescheduleState.from_problem(p)
    cb = config_bound(state, p.migration_limit)
    if cb is None:
        return
    local = state.copy()
    improve(local, p.migration_limit, time.monotonic() + 30)
    for also in ((), (local,)):  # alone, and with the local search's hosts
        planned = configuration_plan(state, cb, p.migration_limit, time.monotonic() + 30, also)
        if planned is None:
            # with a plan given, only a better one is sought: there is none
            # among the columns (the master over all of them, unfixed)
            assert also
            columns = cb.master.columns + plan_columns(state, cb.master, local)
            chosen = _integer_master(cb.master, columns, p.migration_limit, time.monotonic() + 30)
            assert chosen is not None
            slots = sum(columns[j].slots * n for j, n in chosen.items())
            assert state.free_sum - p.fragment_cores * slots >= local.frag_sum
            continue
        report = validate(p, SolveResult(Status.FEASIBLE, "config", plan=planned.plan()))
        assert report.ok, report.summary()
        assert report.objective == pytest.approx(planned.fragment_rate())
        assert len(planned.actions) <= p.migration_limit
        assert planned.frag_sum >= cb.frag  # never below the bound


@settings(max_examples=40, deadline=None)
@given(instances(exotic=True))
def test_columns_cut_by_the_prices_are_in_no_better_choice(p: VmRescheduling) -> None:
    """Lagrangian reduced-cost fixing (``Prices.can_reach``): with a column
    forced into the integer master, the master's best is never above what the
    prices allow that column, so a column cut at ``slots`` is in no choice
    with that many."""
    state = RescheduleState.from_problem(p)
    cb = config_bound(state, p.migration_limit)
    if cb is None or cb.prices is None:
        return
    m = cb.master
    counts = [len(h) for h in m.hosts]
    a, lower, upper = master_rows(m.columns, counts, len(m.classes), p.migration_limit)
    cost = -np.array([float(c.slots) for c in m.columns])
    for j, col in enumerate(m.columns):
        forced = np.zeros(len(m.columns))
        forced[j] = 1.0
        res = milp(
            cost,
            constraints=LinearConstraint(a, lower, upper),
            integrality=np.ones(len(m.columns)),
            bounds=Bounds(forced, np.inf),
        )
        if res.x is None:
            continue  # no choice has it
        best = int(round(-res.fun))
        assert cb.prices.can_reach([col], best)[0]
        assert best <= cb.slots


@settings(max_examples=100, deadline=None)
@given(instances(exotic=True), st.integers(0, 3))
def test_recombined_plans_validate(p: VmRescheduling, seed: int) -> None:
    """Plans of different lengths and orders (the local search stopped
    early, or over a subset of the VMs) recombined host by host: always an
    executable plan within the limit; the integer master could always pick
    any one of them whole, so with a single plan nothing is lost on CPU
    alone (memory may still make the matching drop a move)."""
    state = RescheduleState.from_problem(p)
    rng = np.random.default_rng(seed)
    finals = []
    for _ in range(3):
        s = state.copy()
        vms = np.nonzero(rng.random(state.n_vms) < 0.7)[0]
        improve(s, int(rng.integers(0, p.migration_limit + 1)), time.monotonic() + 30, vms)
        finals.append(s)
    planned = recombine(state, finals, p.migration_limit, time.monotonic() + 30)
    if not applies(state):
        assert planned is None
        return
    assert planned is not None
    report = validate(p, SolveResult(Status.FEASIBLE, "recombined", plan=planned.plan()))
    assert report.ok, report.summary()
    assert report.objective == pytest.approx(planned.fragment_rate())
    assert len(planned.actions) <= p.migration_limit


@settings(max_examples=150, deadline=None)
@given(instances(exotic=True), st.integers(0, 2**31 - 1))
def test_batched_pricing_equals_the_per_type_knapsack(p: VmRescheduling, seed: int) -> None:
    # at random prices, every host type's worth is the same by the batch over
    # enumerated leave sets and by the 0/1 knapsack over (l0, l1), and the
    # configuration each returns is worth what it says
    state = RescheduleState.from_problem(p)
    if not applies(state):
        return
    m = host_master(state)
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, 0.6, len(m.classes)).round(rng.integers(0, 3))
    pi = float(rng.choice([0.0, rng.uniform(0.0, 1.0)]))
    pricing = Pricing(m.types, m.classes, p.fragment_cores)
    assert pricing.batch is not None and not pricing.one_by_one
    worth = pricing.round(mu, pi)
    for i, t in enumerate(m.types):
        alone, col = price_one(
            i, t, pricing.tables[pricing.key[i]], mu, pi, p.fragment_cores, m.classes
        )
        assert worth[i] == pytest.approx(alone, abs=1e-9)
        for c in (col, pricing.column(i)):
            assert c.type == i
            said = c.slots - pi * c.leaves.sum() - mu @ c.net
            assert said == pytest.approx(alone, abs=1e-9)
            assert sorted(t.vms[j][0] for j in c.leave_at) == sorted(
                k for k in range(len(m.classes)) for _ in range(int(c.leaves[k]))
            )


@settings(max_examples=60, deadline=None)
@given(instances(exotic=True), st.sampled_from([1, 3, 8]))
def test_types_priced_one_by_one_give_the_same_bound(p: VmRescheduling, cap: int) -> None:
    # host types with more leave sets than the batch takes are priced alone
    state = RescheduleState.from_problem(p)
    batched = config_bound(state, p.migration_limit)
    if batched is None:
        return
    with mock.patch("optsched.solvers.reschedule.config_price.SETS_PER_TYPE", cap):
        mixed = config_bound(state, p.migration_limit)
    assert mixed is not None
    assert (mixed.slots, mixed.frag, mixed.converged) == (
        batched.slots,
        batched.frag,
        batched.converged,
    )


def test_a_wrap_with_nowhere_to_land_is_not_counted() -> None:
    # a 4-core VM leaving the node with 12 of 16 cores free would complete a
    # fragment there (the wrap bound counts it), but the only node with room
    # is an empty one, where it breaks a whole fragment: no plan gains
    nodes = [node("h0"), node("h1")]
    placed = [
        (vm("a", 4), "h0", (0,)),
        (vm("b", 14, movable=False), "h0", (1,)),
        (vm("c", 14, movable=False), "h1", (0,)),
    ]
    p = problem(snapshot(nodes, placed), 1)
    state = RescheduleState.from_problem(p)
    best = brute_force(p)
    assert best == pytest.approx(state.fragment_rate())  # nothing helps
    wrap = wrap_remainder(state, 1)
    cb = config_bound(state, 1)
    assert wrap is not None and cb is not None and cb.converged
    assert wrap < state.frag_sum == cb.frag
    lb = remainder_bound(state)
    assert lb is not None and lb.proves(state.frag_sum, state.free_sum)


@pytest.mark.parametrize(("mnl", "optimum"), [(10, 0.8508), (25, 0.7245)])
def test_shipped_medium_bound_meets_the_proven_optimum(mnl: int, optimum: float) -> None:
    # the optima were proven by CP-SAT alone (30-105 s, issue 4's benchmark)
    from optsched.datasets.vmr2l import load_shipped

    p = VmRescheduling(load_shipped("medium"), mnl)
    state = RescheduleState.from_problem(p)
    cb = config_bound(state, mnl)
    assert cb is not None and cb.converged
    assert cb.frag / state.free_sum == pytest.approx(optimum, abs=5e-5)
    wrap = wrap_remainder(state, mnl)
    assert wrap is not None and wrap < cb.frag
    # the exact solver's plan meets it: OPTIMAL, validated
    result = create("cpsat-reschedule", num_workers=1, random_seed=0).solve(p, Budget(60.0))
    report = validate(p, result)
    assert report.ok, report.summary()
    assert result.status is Status.OPTIMAL
    assert report.objective == pytest.approx(optimum, abs=5e-5)
