"""Hand-built cases for the rescheduling checker and its fragment rate."""

from __future__ import annotations

from typing import Any

import pytest
from vbuild import evict, move, numa_node, place, result, term, vm

from optsched import metrics
from optsched.datasets.vmr2l import load_shipped
from optsched.model import Assignment, Item, Snapshot, Taint
from optsched.problems import VmRescheduling
from optsched.results import Action, ActionKind
from optsched.validate import validate


def at(node: str, *numa: int) -> Assignment:
    return Assignment(node, numa)


def hosts() -> tuple:  # type: ignore[type-arg]
    return (
        numa_node("h1", cluster="c1"),
        numa_node("h2", cluster="c1"),
        numa_node("h3", cluster="c2"),
        numa_node("off", cluster="c1", schedulable=False),
        numa_node("gpu", cluster="c1", taints=(Taint("gpu", "yes"),), labels={"pool": "gpu"}),
    )


def resched(*vms, where, limit=5, excluded=(), budgets=None) -> VmRescheduling:  # type: ignore[no-untyped-def]
    snap = Snapshot(hosts(), vms, where, budgets or {})
    return VmRescheduling(snap, migration_limit=limit, excluded_hosts=frozenset(excluded))


def c1(iid: str, cores: int = 4, **kw: Any) -> Item:
    return vm(iid, cores, cluster="c1", **kw)


CASES = [
    # (name, problem, actions, expected codes)
    (
        "valid move",
        lambda: resched(c1("v"), where={"v": at("h1", 0)}),
        [move("v", at("h1", 0), at("h2", 1))],
        set(),
    ),
    (
        "numa move same host",
        lambda: resched(c1("v"), where={"v": at("h1", 0)}),
        [move("v", at("h1", 0), at("h1", 1))],
        set(),
    ),
    (
        "limit",
        lambda: resched(c1("v"), c1("w"), where={"v": at("h1", 0), "w": at("h1", 0)}, limit=1),
        [move("v", at("h1", 0), at("h2", 0)), move("w", at("h1", 0), at("h2", 0))],
        {"migration_limit"},
    ),
    (
        "same vm twice counts twice",
        lambda: resched(c1("v"), where={"v": at("h1", 0)}, limit=1),
        [move("v", at("h1", 0), at("h2", 0)), move("v", at("h2", 0), at("h1", 0))],
        {"migration_limit"},
    ),
    (
        "other cluster",
        lambda: resched(c1("v"), where={"v": at("h1", 0)}),
        [move("v", at("h1", 0), at("h3", 0))],
        {"cluster"},
    ),
    (
        "excluded",
        lambda: resched(c1("v"), where={"v": at("h1", 0)}, excluded=("h2",)),
        [move("v", at("h1", 0), at("h2", 0))],
        {"excluded_host"},
    ),
    (
        "unschedulable",
        lambda: resched(c1("v"), where={"v": at("h1", 0)}),
        [move("v", at("h1", 0), at("off", 0))],
        {"unschedulable"},
    ),
    (
        "taint",
        lambda: resched(c1("v"), where={"v": at("h1", 0)}),
        [move("v", at("h1", 0), at("gpu", 0))],
        {"taint"},
    ),
    (
        "selector",
        lambda: resched(c1("v", node_selector={"pool": "gpu"}), where={"v": at("gpu", 0)}),
        [move("v", at("gpu", 0), at("h1", 0))],
        {"node_selector"},
    ),
    (
        "immovable",
        lambda: resched(c1("v", movable=False), where={"v": at("h1", 0)}),
        [move("v", at("h1", 0), at("h2", 0))],
        {"immovable"},
    ),
    (
        "numa capacity",
        lambda: resched(c1("v", 10), c1("w", 10), where={"v": at("h1", 0), "w": at("h2", 0)}),
        [move("v", at("h1", 0), at("h2", 0))],
        {"numa_capacity"},
    ),
    (
        "numa layout",
        lambda: resched(c1("v"), where={"v": at("h1", 0)}),
        [move("v", at("h1", 0), at("h2"))],
        {"numa_layout"},
    ),
    (
        "split keeps two numa",
        lambda: resched(c1("v", 8, numa_split=True), where={"v": at("h1", 0, 1)}),
        [move("v", at("h1", 0, 1), at("h2", 1, 0))],
        set(),
    ),
    (
        "evict not allowed",
        lambda: resched(c1("v", evictable=False), where={"v": at("h1", 0)}),
        [evict("v", at("h1", 0))],
        {"action_kind", "non_evictable", "evictions_disallowed", "unplaced_missing"},
    ),
    (
        "evict of evictable vm",
        lambda: resched(c1("v", evictable=True), where={"v": at("h1", 0)}),
        [evict("v", at("h1", 0))],
        {"action_kind", "evictions_disallowed", "unplaced_missing"},
    ),
    (
        "place not allowed",
        lambda: resched(c1("v"), where={"v": at("h1", 0)}),
        [place("v", at("h2", 0))],
        {"source_mismatch"},
    ),
    (
        "swap order overloads",
        lambda: resched(c1("v", 16), c1("w", 16), where={"v": at("h1", 0), "w": at("h2", 0)}),
        [move("v", at("h1", 0), at("h2", 0)), move("w", at("h2", 0), at("h1", 0))],
        {"move_order"},
    ),
    (
        "budget",
        lambda: resched(
            c1("v", owner="set"),
            c1("w", owner="set"),
            where={"v": at("h1", 0), "w": at("h1", 1)},
            budgets={"set": 1},
        ),
        [move("v", at("h1", 0), at("h2", 0)), move("w", at("h1", 1), at("h2", 1))],
        {"disruption_budget"},
    ),
    (
        "deployment set anti-affinity",
        lambda: resched(
            c1("v", labels={"set": "s"}, anti_affinity=(term(set="s"),)),
            c1("w", labels={"set": "s"}, anti_affinity=(term(set="s"),)),
            where={"v": at("h1", 0), "w": at("h2", 0)},
        ),
        [move("v", at("h1", 0), at("h2", 1))],
        {"anti_affinity"},
    ),
    (
        "unknown vm",
        lambda: resched(c1("v"), where={"v": at("h1", 0)}),
        [move("x", at("h1", 0), at("h2", 0))],
        {"unknown_reference"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case(case: tuple) -> None:  # type: ignore[type-arg]
    _, build, actions, expected = case
    report = validate(build(), result(*actions))
    assert report.codes() == expected, report.summary(20)


def test_fragment_rate_by_hand() -> None:
    # h1: NUMA 0 holds 4 of 16 cores (free 12), NUMA 1 free 16; h2, gpu free 16+16;
    # h3 free 16+16; 'off' is unschedulable and not counted. F = 16.
    problem = resched(c1("v"), where={"v": at("h1", 0)})
    report = validate(problem, result())
    assert report.objective == pytest.approx(12 / (12 + 16 * 7))
    moved = validate(problem, result(move("v", at("h1", 0), at("off", 0))))
    assert moved.codes() == {"unschedulable"}
    assert moved.objective == 0.0  # every counted unit is whole again


def test_fragment_rate_memory_aware() -> None:
    snap = Snapshot(hosts(), (c1("v", 4, mem=60),), {"v": at("h1", 0)})
    problem = VmRescheduling(snap, migration_limit=1, memory_aware=True, memory_per_core_mb=1)
    # NUMA 0 of h1: 12 cores free but 4 MB free -> 4 usable cores.
    assert validate(problem, result()).objective == pytest.approx(4 / (4 + 16 * 7))


def test_medium_snapshot_matches_published_rate_and_metrics() -> None:
    snap = load_shipped("medium")
    problem = VmRescheduling(snap, migration_limit=3)
    report = validate(problem, result())
    assert report.ok
    assert round(report.objective or 0, 3) == 0.977
    vm_id = next(
        i for i, a in snap.assignments.items() if len(a.numa) == 1 and snap.item(i).movable
    )
    item, src = snap.item(vm_id), snap.assignments[vm_id]
    dst = next(
        Assignment(n.name, (k,))
        for n in snap.nodes
        if n.name != src.node and n.cluster == item.cluster
        for k in range(len(n.numa))
        if _numa_free(snap, n.name, k) >= item.requests["cpu_cores"]
        and _numa_free(snap, n.name, k, "memory_mb") >= item.requests["memory_mb"]
    )
    moved = validate(problem, result(move(vm_id, src, dst)))
    assert moved.ok, moved.summary()
    final = snap.with_assignments({**snap.assignments, vm_id: dst})
    assert moved.objective == pytest.approx(metrics.fragment_rate(final))


def _numa_free(snap: Snapshot, node: str, k: int, res: str = "cpu_cores") -> int:
    n = snap.node(node)
    used = 0
    for iid, a in snap.assignments.items():
        if a.node == node and k in a.numa:
            used += snap.item(iid).requests[res] // len(a.numa)
    return n.numa[k].capacity[res] - n.numa[k].reserved[res] - used


def test_bad_action_shape_is_reported() -> None:
    problem = resched(c1("v"), where={"v": at("h1", 0)})
    report = validate(problem, result(Action(ActionKind.MOVE, "v", at("h1", 0), None)))
    assert report.codes() == {"bad_action"}
