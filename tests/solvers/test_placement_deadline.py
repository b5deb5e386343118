"""The CP-SAT placement solver under a budget its baselines already use up:
no model is built, the answer is the best baseline's (valid, FEASIBLE,
saying so), and kube-default's emulation stops at its deadline with the pods
still queued left pending."""

from __future__ import annotations

import time

from placement_builders import CPSAT_TEST_OPTIONS, node, pod, snapshot

from optsched.budget import Budget
from optsched.problems import PodPlacement
from optsched.registry import create
from optsched.results import Status
from optsched.solvers.placement.kube_default import kube_schedule_until
from optsched.solvers.placement.topology import build_topology
from optsched.validate import validate


def _contended() -> PodPlacement:
    nodes = [node(f"n{i}", cpu=1000, pods=4) for i in range(3)]
    running = [pod(f"run{j}", cpu=300, priority=1, owner="rs-a") for j in range(9)]
    pending = [pod(f"new{j}", cpu=400, priority=5) for j in range(3)]
    where = {f"run{j}": f"n{j % 3}" for j in range(9)}
    return PodPlacement(snapshot(nodes, [*running, *pending], where))


def test_no_time_for_the_model_gives_the_best_baseline() -> None:
    problem = _contended()
    result = create("cpsat-placement", **CPSAT_TEST_OPTIONS).solve(problem, Budget(0.001))
    assert result.status is Status.FEASIBLE
    assert result.stats["model"].startswith("not built: the budget ran out")
    assert "the model was not built" in result.message
    assert result.stats["source"] in ("kube-default", "first-fit-decreasing", "best-fit-decreasing")
    report = validate(problem, result)
    assert report.ok, report.summary()


def test_kube_default_stops_at_its_deadline() -> None:
    topo = build_topology(_contended())
    state, complete = kube_schedule_until(topo, True, time.monotonic() - 1.0)
    assert not complete
    assert sorted(state.assignments()) == [f"run{j}" for j in range(9)]
    state, complete = kube_schedule_until(topo, True, None)
    assert complete
    assert {f"new{j}" for j in range(3)} <= set(state.assignments())
