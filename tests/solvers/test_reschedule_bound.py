"""The fragment-rate lower bound (:mod:`optsched.solvers.reschedule.bound`)
against brute force and against every validated solver answer."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reschedule_cases import MB_PER_CORE, brute_force, node, plain_node, problem, snapshot, vm

from optsched.budget import Budget
from optsched.model import Item, Node
from optsched.problems.cluster import VmRescheduling
from optsched.registry import create
from optsched.results import Status
from optsched.solvers.reschedule import cpsat_model as cpm
from optsched.solvers.reschedule.bound import remainder_bound
from optsched.solvers.reschedule.classes import disaggregate, vm_classes
from optsched.solvers.reschedule.exact import CpsatArgs, optimize
from optsched.solvers.reschedule.state import RescheduleState
from optsched.validate import validate

SOLVERS = ("greedy-reschedule", "cpsat-reschedule", "lns-reschedule")
DETERMINISTIC = {"num_workers": 1, "random_seed": 0}


@st.composite
def _instances(draw: st.DrawFn, exotic: bool = True) -> VmRescheduling:
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


@settings(max_examples=300, deadline=None)
@given(_instances())
def test_bound_never_exceeds_the_brute_force_optimum(p: VmRescheduling) -> None:
    state = RescheduleState.from_problem(p)
    lb = remainder_bound(state)
    assert lb is not None
    best = brute_force(p)
    assert lb.rate <= best + 1e-12
    assert lb.frag <= state.frag_sum  # the start is a plan
    if lb.proves(state.frag_sum, state.free_sum):
        assert state.fragment_rate() == pytest.approx(best)


@settings(max_examples=40, deadline=None)
@given(_instances())
def test_without_migrations_the_bound_is_the_start(p: VmRescheduling) -> None:
    # MNL 0: only the start state is reachable, and the bound must find it exactly
    state = RescheduleState.from_problem(p)
    lb = remainder_bound(state, 0)
    assert lb is not None
    assert lb.frag == state.frag_sum
    assert lb.proves(state.frag_sum, state.free_sum)


@settings(max_examples=12, deadline=None)
@given(_instances(exotic=False))
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
@given(_instances(exotic=False))
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
