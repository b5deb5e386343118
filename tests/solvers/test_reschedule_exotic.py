"""The exact class model and the solvers on VMs whose starting position is
unusual: a VM of another cluster than its host's (it may stay, but no VM of
its cluster may move there), and a NUMA-split VM on a host without NUMA
layout (it sits whole on the host's single unit; it may stay but cannot
move onto such a host). Each VM's start must be a model position (it may
stay) and leaving it must count as a migration."""

import time

import numpy as np
import pytest
from hypothesis import example, given, settings
from reschedule_cases import brute_force, instances, node, plain_node, problem, snapshot, vm

from optsched.budget import Budget
from optsched.problems.cluster import VmRescheduling
from optsched.registry import create
from optsched.results import Status
from optsched.solvers.reschedule import cpsat_model as cpm
from optsched.solvers.reschedule.classes import Slot, disaggregate, vm_classes
from optsched.solvers.reschedule.exact import CpsatArgs, optimize, solve_model
from optsched.solvers.reschedule.result import state_result
from optsched.solvers.reschedule.sequencing import sequence
from optsched.solvers.reschedule.state import RescheduleState
from optsched.validate import validate

SOLVERS = ("greedy-reschedule", "cpsat-reschedule", "lns-reschedule")
DETERMINISTIC = {"num_workers": 1, "random_seed": 0}
# the exact solver without greedy and bound: its answer is the model's own
MODEL_ONLY = {**DETERMINISTIC, "hint_with_search": False, "bound": False}


def _model_optimum(p: VmRescheduling) -> float:
    """Solve the full class model to optimality; check that it keeps every VM
    once, displaces at most MNL VMs, and that its sequenced plan validates;
    return the fragment rate of its final state."""
    start = RescheduleState.from_problem(p)
    classes = vm_classes(start, np.arange(start.n_vms))
    cm = cpm.build(start, classes, np.arange(start.n_hosts), p.migration_limit)
    opt = optimize(cm, start, time.monotonic() + 60, CpsatArgs(num_workers=1))
    assert opt.proven and opt.values is not None
    counts = cm.counts(opt.values)
    for cls, final in zip(classes, counts, strict=True):
        assert sum(final.values()) == len(cls.vms)
    assert _model_terms(p, opt.values) == _state_terms(p, counts)
    moves = disaggregate(start, classes, counts)
    assert len({v for v, _, _ in moves}) == len(moves) <= p.migration_limit
    end = start.copy()
    for v, h, numa in moves:
        end.move(v, h, numa, check=False)
    done = start.copy()
    seq = sequence(done, moves, p.migration_limit)
    result = state_result(done, solver="model", status=Status.FEASIBLE, started=0.0, fr_before=0.0)
    report = validate(p, result)
    assert report.ok, report.summary()
    if seq.complete:
        assert report.objective == pytest.approx(end.fragment_rate())
    return end.fragment_rate()


def _model_terms(p: VmRescheduling, values: dict[cpm.Key, int]) -> tuple[int, int]:
    """(R, T) the model reads off the final counts ``values``."""
    start = RescheduleState.from_problem(p)
    classes = vm_classes(start, np.arange(start.n_vms))
    cm = cpm.build(start, classes, np.arange(start.n_hosts), p.migration_limit)
    for key, var in cm.x.items():
        cm.model.add(var == values.get(key, 0))
    cpm.set_ratio_objective(cm, 1, 0)
    ans = solve_model(cm, 10.0, CpsatArgs(num_workers=1))
    assert ans.status is Status.OPTIMAL and ans.frag is not None and ans.free is not None
    return ans.frag, ans.free


def _state_terms(p: VmRescheduling, counts: list[dict[Slot, int]]) -> tuple[int, int]:
    """(R, T) of the state the final counts describe."""
    start = RescheduleState.from_problem(p)
    classes = vm_classes(start, np.arange(start.n_vms))
    for v, h, numa in disaggregate(start, classes, counts):
        start.move(v, h, numa, check=False)
    return start.frag_sum, start.free_sum


def _other_cluster() -> VmRescheduling:
    # v0 belongs to cluster B but sits on h0 in cluster A; the one move MNL 1
    # allows is best spent on v1 (to h0's NUMA node 0 next to v0): free 4 | 8
    # on h0. The dropped start forced v0 to h1 uncounted (two moves).
    snap = snapshot(
        [node("h0", 8, cluster="A"), node("h1", 8, cluster="B")],
        [(vm("v0", 2, cluster="B"), "h0", (0,)), (vm("v1", 2, cluster="A"), "h0", (1,))],
    )
    return problem(snap, 1, fragment_cores=4)


def _split_on_plain_host() -> VmRescheduling:
    # split v0 sits whole on h0, which has no NUMA layout (12 cores, 10 free);
    # it cannot go back to such a host, and the dropped start forced it onto h1
    snap = snapshot(
        [plain_node("h0", 12), node("h1", 8)],
        [(vm("v0", 2, split=True), "h0", ()), (vm("v1", 1), "h1", (0,))],
    )
    return problem(snap, 1, fragment_cores=4)


def _split_stays() -> VmRescheduling:
    # no room elsewhere for split v0 (h1's NUMA node 1 is full): it must be
    # able to stay on the plain host h0, where it takes its whole request (6
    # of 12 cores, not half) from h0's single unit
    snap = snapshot(
        [plain_node("h0", 12), node("h1", 8)],
        [
            (vm("v0", 6, split=True), "h0", ()),
            (vm("v1", 8, movable=False), "h1", (1,)),
            (vm("v2", 3), "h1", (0,)),
        ],
    )
    return problem(snap, 1, fragment_cores=4)


CASES = {
    "other-cluster": _other_cluster,
    "split-on-plain-host": _split_on_plain_host,
    "split-stays": _split_stays,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_optimum_is_the_brute_force_optimum(case: str) -> None:
    p = CASES[case]()
    assert _model_optimum(p) == pytest.approx(brute_force(p))


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_start_is_a_position_and_leaving_it_counts(case: str) -> None:
    p = CASES[case]()
    start = RescheduleState.from_problem(p)
    classes = vm_classes(start, np.arange(start.n_vms))
    cm = cpm.build(start, classes, np.arange(start.n_hosts), p.migration_limit)
    assert set(cm.init) <= set(cm.x) and set(cm.init) == set(cm.out)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", [*SOLVERS, "model-only"])
def test_solvers_on_the_cases(case: str, name: str) -> None:
    p = CASES[case]()
    if name == "greedy-reschedule":
        solver = create(name)
    elif name == "model-only":
        solver = create("cpsat-reschedule", **MODEL_ONLY)
    else:
        solver = create(name, **DETERMINISTIC)
    result = solver.solve(p, Budget(1.0))
    report = validate(p, result)
    assert report.ok, report.summary()
    assert report.objective is not None
    best = brute_force(p)
    assert report.objective >= best - 1e-12
    if result.status is Status.OPTIMAL:
        assert report.objective == pytest.approx(best)
    if name in ("cpsat-reschedule", "model-only"):
        assert result.status is Status.OPTIMAL


# a full schedulable host beside a draining one: no free CPU counts, the
# rate is 0 and that is proven without a search
FULL_BESIDE_DRAINING = problem(
    snapshot(
        [plain_node("h0", 12, cluster="A"), plain_node("h1", 12, cluster="A", schedulable=False)],
        [
            (vm("v0", 6, cluster="A"), "h0", ()),
            (vm("v1", 6, cluster="A"), "h0", ()),
            (vm("v3", 1, cluster="A"), "h1", ()),
        ],
    ),
    1,
    fragment_cores=3,
)

# moving the split VM off the draining host fills the only counted host: the
# rate drops to 0, which Dinkelbach's parametric objective scores the same
# as the start (both 0) and must be found by a check of its own
FILL_FROM_DRAINING = problem(
    snapshot(
        [node("h0", 8, cluster="A"), plain_node("h1", 12, cluster="A", schedulable=False)],
        [
            (vm("v0", 4, split=True, cluster="A"), "h0", (0, 1)),
            (vm("v1", 6, split=True, movable=False, cluster="A"), "h0", (0, 1)),
            (vm("v2", 6, split=True, cluster="A"), "h1", ()),
        ],
    ),
    1,
    fragment_cores=4,
)


@settings(max_examples=60, deadline=None)
@given(instances(exotic=True))
@example(FULL_BESIDE_DRAINING)
@example(FILL_FROM_DRAINING)
def test_model_keeps_every_start_on_exotic_instances(p: VmRescheduling) -> None:
    assert _model_optimum(p) == pytest.approx(brute_force(p))


@settings(max_examples=15, deadline=None)
@given(instances(exotic=True))
def test_solvers_on_exotic_instances(p: VmRescheduling) -> None:
    best = brute_force(p)
    for name, kw in (
        ("greedy-reschedule", None),
        ("cpsat-reschedule", DETERMINISTIC),
        ("cpsat-reschedule", MODEL_ONLY),
        ("lns-reschedule", DETERMINISTIC),
    ):
        solver = create(name) if kw is None else create(name, **kw)
        result = solver.solve(p, Budget(0.5))
        report = validate(p, result)
        assert report.ok, f"{name} {kw}: {report.summary()}"
        assert report.objective is not None and report.objective >= best - 1e-12
        if result.status is Status.OPTIMAL:
            assert report.objective == pytest.approx(best), f"{name} {kw}"
