"""Hand-built cases: required (anti-)affinity, NUMA layout, taint effects,
missing plans, and the recomputed placement objective."""

from __future__ import annotations

import pytest
from vbuild import evict, item, move, node, numa_node, place, result, term, vm

from optsched.model import ZONE_KEY, Assignment, Snapshot, Taint
from optsched.problems import PodPlacement, VmPlacement
from optsched.results import SolveResult, Status
from optsched.validate import validate

ZONES = {"a": "z1", "b": "z1", "c": "z2"}


def zoned(*items, assignments=None) -> PodPlacement:  # type: ignore[no-untyped-def]
    nodes = tuple(node(n, labels={ZONE_KEY: z}) for n, z in ZONES.items())
    return PodPlacement(Snapshot(nodes, items, assignments or {}))


WEB = {"app": "web"}
AFFINITY_CASES = [
    # (name, items, assignments, actions, expected codes)
    (
        "anti same host",
        [item("w1", labels=WEB), item("w2", labels=WEB, anti_affinity=(term(app="web"),))],
        {"w1": "a"},
        [place("w2", "a")],
        {"anti_affinity"},
    ),
    (
        "anti other host",
        [item("w1", labels=WEB), item("w2", labels=WEB, anti_affinity=(term(app="web"),))],
        {"w1": "a"},
        [place("w2", "b")],
        set(),
    ),
    (
        "anti same zone",
        [item("w1", labels=WEB), item("w2", anti_affinity=(term(ZONE_KEY, app="web"),))],
        {"w1": "a"},
        [place("w2", "b")],
        {"anti_affinity"},
    ),
    (
        "anti other zone",
        [item("w1", labels=WEB), item("w2", anti_affinity=(term(ZONE_KEY, app="web"),))],
        {"w1": "a"},
        [place("w2", "c")],
        set(),
    ),
    (
        "anti symmetric",
        [item("w1", anti_affinity=(term(app="web"),)), item("w2", labels=WEB)],
        {"w1": "a"},
        [place("w2", "a")],
        {"anti_affinity"},
    ),
    (
        "anti other namespace",
        [item("w1", labels=WEB, namespace="x"), item("w2", anti_affinity=(term(app="web"),))],
        {"w1": "a"},
        [place("w2", "a")],
        set(),
    ),
    (
        "anti listed namespace",
        [
            item("w1", labels=WEB, namespace="x"),
            item("w2", anti_affinity=(term(namespaces=("x",), app="web"),)),
        ],
        {"w1": "a"},
        [place("w2", "a")],
        {"anti_affinity"},
    ),
    (
        "anti between two newcomers",
        [
            item("w1", labels=WEB, anti_affinity=(term(app="web"),)),
            item("w2", labels=WEB, anti_affinity=(term(app="web"),)),
        ],
        {},
        [place("w1", "c"), place("w2", "c")],
        {"anti_affinity"},
    ),
    (
        "anti missing key",
        [item("w1", labels=WEB), item("w2", anti_affinity=(term("rack", app="web"),))],
        {"w1": "a"},
        [place("w2", "a")],
        set(),
    ),
    (
        "anti unchanged items not rechecked",
        [
            item("w1", labels=WEB),
            item("w2", labels=WEB, anti_affinity=(term(app="web"),)),
            item("x"),
        ],
        {"w1": "a", "w2": "a"},
        [place("x", "a")],
        set(),
    ),
    (
        "affinity met",
        [item("db", labels={"app": "db"}), item("w", affinity=(term(ZONE_KEY, app="db"),))],
        {"db": "a"},
        [place("w", "b")],
        set(),
    ),
    (
        "affinity missed",
        [item("db", labels={"app": "db"}), item("w", affinity=(term(ZONE_KEY, app="db"),))],
        {"db": "a"},
        [place("w", "c")],
        {"affinity"},
    ),
    (
        "affinity missing key",
        [item("db", labels={"app": "db"}), item("w", affinity=(term("rack", app="db"),))],
        {"db": "a"},
        [place("w", "a")],
        {"affinity"},
    ),
    (
        "affinity first of group",
        [item("w", labels=WEB, affinity=(term(app="web"),))],
        {},
        [place("w", "a")],
        set(),
    ),
    (
        "affinity no group, no self match",
        [item("w", affinity=(term(app="db"),))],
        {},
        [place("w", "a")],
        {"affinity"},
    ),
    (
        "affinity placed together",
        [
            item("w1", labels=WEB, affinity=(term(app="web"),)),
            item("w2", labels=WEB, affinity=(term(app="web"),)),
        ],
        {},
        [place("w1", "a"), place("w2", "a")],
        set(),
    ),
    (
        "affinity split apart",
        [item("w0", labels=WEB), item("w1", labels=WEB, affinity=(term(app="web"),))],
        {"w0": "a"},
        [place("w1", "c")],
        {"affinity"},
    ),
    (
        "affinity partner evicted",
        [item("db", labels={"app": "db"}), item("w", affinity=(term(app="db"),))],
        {"db": "a"},
        [evict("db", "a"), place("w", "a")],
        {"affinity"},
    ),
]


@pytest.mark.parametrize("case", AFFINITY_CASES, ids=[c[0] for c in AFFINITY_CASES])
def test_affinity(case: tuple) -> None:  # type: ignore[type-arg]
    _, items, where, actions, expected = case
    problem = zoned(*items, assignments={k: Assignment(v) for k, v in where.items()})
    evicted = tuple(a.item_id for a in actions if a.target is None)
    report = validate(problem, result(*actions, unplaced=evicted))
    assert report.codes() == expected, report.summary(20)


def test_prefer_no_schedule_never_blocks_and_no_execute_does() -> None:
    soft = node("s", taints=(Taint("k", "v", "PreferNoSchedule"),))
    hard = node("h", taints=(Taint("k", "v", "NoExecute"),))
    problem = PodPlacement(Snapshot((soft, hard), (item("p"), item("q"))))
    report = validate(problem, result(place("p", "s"), place("q", "h")))
    assert report.codes() == {"taint"}
    assert [v.item_id for v in report.violations] == ["q"]


def numa_problem(*items) -> VmPlacement:  # type: ignore[no-untyped-def]
    return VmPlacement(Snapshot((numa_node("h", cores=16), node("flat", 8000)), items))


NUMA_CASES = [
    ("one numa", vm("v", 8), Assignment("h", (1,)), set()),
    ("split on two", vm("v", 24, numa_split=True), Assignment("h", (0, 1)), set()),
    ("numa missing for vm", vm("v", 8), Assignment("h"), {"numa_layout"}),
    ("non split on two", vm("v", 8), Assignment("h", (0, 1)), {"numa_layout"}),
    ("split on one", vm("v", 8, numa_split=True), Assignment("h", (0,)), {"numa_layout"}),
    ("split repeats", vm("v", 8, numa_split=True), Assignment("h", (1, 1)), {"numa_layout"}),
    ("numa over", vm("v", 20), Assignment("h", (0,)), {"numa_capacity"}),
    (
        "split over",
        vm("v", 34, numa_split=True),
        Assignment("h", (0, 1)),
        {"capacity", "numa_capacity"},
    ),
    (
        "bad numa index",
        vm("v", 4),
        Assignment("h", (2,)),
        {"unknown_reference", "unplaced_missing"},
    ),
]


@pytest.mark.parametrize("case", NUMA_CASES, ids=[c[0] for c in NUMA_CASES])
def test_numa(case: tuple) -> None:  # type: ignore[type-arg]
    _, v, where, expected = case
    report = validate(numa_problem(v), result(place(v.item_id, where)))
    assert report.codes() == expected, report.summary(20)


def test_split_item_with_odd_request_is_refused_at_construction() -> None:
    from optsched.errors import DomainError

    with pytest.raises(DomainError) as exc:
        vm("v", 7, numa_split=True)
    assert exc.value.field == "items[v].requests.cpu_cores"


def test_numa_capacity_after_earlier_vm_and_reserved() -> None:
    from optsched.model import Node, NumaNode, Resources

    per = Resources.of(cpu_cores=16)
    host = Node(
        "h",
        Resources.of(cpu_cores=32),
        numa=(NumaNode(per, Resources.of(cpu_cores=4)), NumaNode(per)),
    )
    problem = VmPlacement(Snapshot((host,), (vm("a", 8, mem=0), vm("b", 6, mem=0))))
    ok = validate(
        problem, result(place("a", Assignment("h", (0,))), place("b", Assignment("h", (1,))))
    )
    bad = validate(
        problem, result(place("a", Assignment("h", (0,))), place("b", Assignment("h", (0,))))
    )
    assert ok.ok and bad.codes() == {"numa_capacity"}


def test_node_reserved_reduces_capacity() -> None:
    from optsched.model import Resources

    n = node("a", 1000, reserved=Resources.of(cpu_millis=300))
    problem = PodPlacement(Snapshot((n,), (item("p", 800),)))
    assert validate(problem, result(place("p", "a"))).codes() == {"capacity"}


@pytest.mark.parametrize("status", list(Status))
def test_missing_plan_valid_only_without_solution(status: Status) -> None:
    report = validate(zoned(item("p")), SolveResult(status, "test"))
    assert report.ok == (not status.has_solution)
    assert report.codes() == (set() if report.ok else {"missing_plan"})


def test_every_violation_is_returned() -> None:
    problem = zoned(
        item("p", 5000, node_selector={"x": "y"}),
        item("q", movable=False),
        assignments={"q": Assignment("a")},
    )
    report = validate(problem, result(place("p", "a"), move("q", "a", "b")))
    assert report.codes() == {"capacity", "node_selector", "immovable"}
    assert {v.step for v in report.violations} == {0, 1}


def test_placement_metrics_and_objective_order() -> None:
    items = (
        item("hi", 600, priority=100),
        item("lo", 600, priority=1),
        item("run", 500, priority=1),
    )
    problem = zoned(*items, assignments={"run": Assignment("a")})
    full = validate(problem, result(place("hi", "b"), place("lo", "c")))
    evicting = validate(
        problem, result(evict("run", "a"), place("hi", "a"), place("lo", "b"), unplaced=("run",))
    )
    low_only = validate(problem, result(place("lo", "b"), unplaced=("hi",)))
    assert full.ok and evicting.ok and low_only.ok
    assert full.metrics["placed_by_priority"] == {100: 1, 1: 3}
    assert evicting.metrics["placed_by_priority"] == {100: 1, 1: 2}
    assert evicting.metrics["evictions"] == 1 and evicting.metrics["eviction_weight"] == 1
    assert full.metrics["objective_key"] == (0, 0, 0, 0)
    assert evicting.metrics["objective_key"] == (0, 1, 1, 0)
    assert low_only.metrics["objective_key"] == (1, 0, 0, 0)
    assert full.objective < evicting.objective < low_only.objective  # type: ignore[operator]


def test_moves_counted_in_objective() -> None:
    problem = zoned(item("p"), assignments={"p": Assignment("a")})
    report = validate(problem, result(move("p", "a", "b")))
    assert report.ok and report.metrics["moves"] == 1 and report.objective == 1.0
