"""Hand-built cases for the placement checker: one per violation kind, and
the valid cases next to them (table-driven, as in the scheduler's fit tests)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from vbuild import evict, item, move, node, place, result

from optsched.model import (
    ZONE_KEY,
    Assignment,
    Snapshot,
    Taint,
    Toleration,
)
from optsched.problems import PodPlacement
from optsched.results import SolveResult
from optsched.validate import validate

Case = Callable[[], tuple[PodPlacement, SolveResult]]
A, B = Assignment("a"), Assignment("b")


def two_nodes(*items, assignments=None, budgets=None, **problem) -> PodPlacement:  # type: ignore[no-untyped-def]
    nodes = (
        node("a", labels={ZONE_KEY: "z1", "disk": "ssd"}),
        node("b", labels={ZONE_KEY: "z2"}, taints=(Taint("gpu", "yes", "NoSchedule"),)),
    )
    snap = Snapshot(nodes, items, assignments or {}, budgets or {})
    return PodPlacement(snap, **problem)


CASES: dict[str, tuple[Case, set[str]]] = {
    "valid place": (lambda: (two_nodes(item("p")), result(place("p", "a"))), set()),
    "unknown item": (
        lambda: (two_nodes(item("p")), result(place("q", "a"), unplaced=("p",))),
        {"unknown_reference"},
    ),
    "unknown node": (
        lambda: (two_nodes(item("p")), result(place("p", "zz"), unplaced=("p",))),
        {"unknown_reference"},
    ),
    "unknown numa": (
        lambda: (two_nodes(item("p")), result(place("p", Assignment("a", (0,))), unplaced=("p",))),
        {"unknown_reference"},
    ),
    "unknown unplaced id": (
        lambda: (two_nodes(item("p")), result(place("p", "a"), unplaced=("ghost",))),
        {"unknown_reference"},
    ),
    "move of pending": (
        lambda: (two_nodes(item("p")), result(move("p", "a", "a"), unplaced=("p",))),
        {"source_mismatch"},
    ),
    "place of placed": (
        lambda: (two_nodes(item("p"), assignments={"p": A}), result(place("p", "a"))),
        {"source_mismatch"},
    ),
    "wrong source": (
        lambda: (two_nodes(item("p"), assignments={"p": A}), result(move("p", "b", "a"))),
        {"source_mismatch"},
    ),
    "capacity": (
        lambda: (
            two_nodes(item("p", 600), item("q", 600)),
            result(place("p", "a"), place("q", "a")),
        ),
        {"capacity"},
    ),
    "memory capacity": (
        lambda: (two_nodes(item("p", 1, 2000)), result(place("p", "a"))),
        {"capacity"},
    ),
    "unknown resource has no capacity": (
        lambda: (two_nodes(item("p", 1, extra={"example.com/fpga": 1})), result(place("p", "a"))),
        {"capacity"},
    ),
    "move order": (
        lambda: (
            two_nodes(
                item("p", 600),
                item("q", 600, tolerations=(Toleration("gpu", "Exists"),)),
                assignments={"q": A},
            ),
            result(place("p", "a"), move("q", "a", "b")),
        ),
        {"move_order"},
    ),
    "unschedulable": (
        lambda: (
            PodPlacement(Snapshot((node("a", schedulable=False),), (item("p"),))),
            result(place("p", "a")),
        ),
        {"unschedulable"},
    ),
    "node selector": (
        lambda: (two_nodes(item("p", node_selector={"disk": "hdd"})), result(place("p", "a"))),
        {"node_selector"},
    ),
    "taint": (lambda: (two_nodes(item("p")), result(place("p", "b"))), {"taint"}),
    "taint tolerated by Exists": (
        lambda: (
            two_nodes(item("p", tolerations=(Toleration(operator="Exists"),))),
            result(place("p", "b")),
        ),
        set(),
    ),
    "toleration wrong value": (
        lambda: (
            two_nodes(item("p", tolerations=(Toleration("gpu", value="no"),))),
            result(place("p", "b")),
        ),
        {"taint"},
    ),
    "toleration wrong effect": (
        lambda: (
            two_nodes(item("p", tolerations=(Toleration("gpu", value="yes", effect="NoExecute"),))),
            result(place("p", "b")),
        ),
        {"taint"},
    ),
    "protected move": (
        lambda: (
            two_nodes(item("p", namespace="kube-system"), assignments={"p": A}),
            result(move("p", "a", "a")),
        ),
        {"protected"},
    ),
    "protected evict": (
        lambda: (
            two_nodes(item("p", namespace="kube-system"), assignments={"p": A}),
            result(evict("p", "a"), unplaced=("p",)),
        ),
        {"protected"},
    ),
    "protected pending may be placed": (
        lambda: (two_nodes(item("p", namespace="kube-system")), result(place("p", "a"))),
        set(),
    ),
    "immovable": (
        lambda: (
            two_nodes(item("p", movable=False), assignments={"p": A}),
            result(move("p", "a", "a")),
        ),
        {"immovable"},
    ),
    "immovable evicted and placed again": (
        lambda: (
            two_nodes(item("p", movable=False), assignments={"p": A}),
            result(evict("p", "a"), place("p", "a")),
        ),
        {"immovable"},
    ),
    "movable evicted and placed again (its controller recreates it)": (
        lambda: (
            two_nodes(item("p"), assignments={"p": A}),
            result(evict("p", "a"), place("p", "a")),
        ),
        set(),
    ),
    "non evictable": (
        lambda: (
            two_nodes(item("p", evictable=False), assignments={"p": A}),
            result(evict("p", "a"), unplaced=("p",)),
        ),
        {"non_evictable"},
    ),
    "moves disallowed": (
        lambda: (
            two_nodes(item("p"), assignments={"p": A}, allow_moves=False),
            result(move("p", "a", "a")),
        ),
        {"moves_disallowed"},
    ),
    "evictions disallowed": (
        lambda: (
            two_nodes(item("p"), assignments={"p": A}, allow_evictions=False),
            result(evict("p", "a"), unplaced=("p",)),
        ),
        {"evictions_disallowed"},
    ),
    "max moves": (
        lambda: (
            two_nodes(item("p"), assignments={"p": A}, max_moves=1),
            result(move("p", "a", "a"), move("p", "a", "a")),
        ),
        {"max_moves"},
    ),
    "disruption budget": (
        lambda: (
            two_nodes(
                item("p", owner="rs"),
                item("q", owner="rs"),
                assignments={"p": A, "q": A},
                budgets={"rs": 1},
            ),
            result(evict("p", "a"), move("q", "a", "a"), unplaced=("p",)),
        ),
        {"disruption_budget"},
    ),
    "unplaced missing": (
        lambda: (two_nodes(item("p"), item("q")), result(place("p", "a"))),
        {"unplaced_missing"},
    ),
    "evicted missing": (
        lambda: (two_nodes(item("p"), assignments={"p": A}), result(evict("p", "a"))),
        {"unplaced_missing"},
    ),
    "unplaced spurious": (
        lambda: (
            two_nodes(item("p"), item("q"), assignments={"q": A}),
            result(place("p", "a"), unplaced=("q",)),
        ),
        {"unplaced_spurious"},
    ),
}


def _evict_with_target() -> tuple[PodPlacement, SolveResult]:
    from optsched.results import Action, ActionKind

    bad = Action(ActionKind.EVICT, "p", A, B)
    return two_nodes(item("p"), assignments={"p": A}), result(bad)


CASES["evict with target"] = (_evict_with_target, {"bad_action"})


def _place_without_target() -> tuple[PodPlacement, SolveResult]:
    from optsched.results import Action, ActionKind

    return two_nodes(item("p")), result(Action(ActionKind.PLACE, "p"), unplaced=("p",))


CASES["place without target"] = (_place_without_target, {"bad_action"})


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name: str) -> None:
    build, expected = CASES[name]
    problem, res = build()
    report = validate(problem, res)
    assert report.codes() == expected, report.summary(20)
