"""Input checks of the model and problems: every bad value raises a
DomainError that names the offending field."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optsched.errors import DomainError
from optsched.model import (
    AffinityTerm,
    Assignment,
    Item,
    LabelSelector,
    Node,
    NumaNode,
    Resources,
    SelectorRequirement,
    Snapshot,
    Taint,
    Toleration,
)
from optsched.problems import PodPlacement, VmPlacement, VmRescheduling

N = Node("n", {"cpu_millis": 1000}, numa=(NumaNode(Resources.of(cpu_millis=500)),))
P = Item("p", {"cpu_millis": 100})
SNAP = Snapshot((N,), (P,), {"p": Assignment("n")})
PENDING = Snapshot((N,), (P,))

BAD: list[tuple[str, Callable[[], Any], str]] = [
    ("node name", lambda: Node("", {}), "node.name"),
    ("node capacity type", lambda: Node("n", [1]), "nodes[n].capacity"),  # type: ignore[arg-type]
    ("node capacity value", lambda: Node("n", {"cpu_millis": -5}), "nodes[n].capacity.cpu_millis"),
    (
        "node reserved",
        lambda: Node("n", {}, reserved={"memory_mib": math.nan}),
        "nodes[n].reserved.memory_mib",
    ),
    ("resource name", lambda: Node("n", {"": 1}), "nodes[n].capacity"),
    (
        "numa capacity",
        lambda: Node("n", {}, numa=(NumaNode({"cpu_cores": math.inf}),)),
        "nodes[n].numa[0].capacity.cpu_cores",
    ),  # type: ignore[arg-type]
    (
        "numa reserved",
        lambda: Node("n", {}, numa=(NumaNode(Resources(), {"cpu_cores": -1}),)),
        "nodes[n].numa[0].reserved.cpu_cores",
    ),  # type: ignore[arg-type]
    ("numa type", lambda: Node("n", {}, numa=({"cpu_cores": 4},)), "nodes[n].numa[0]"),  # type: ignore[arg-type]
    ("item id", lambda: Item("", {}), "item.item_id"),
    ("item request", lambda: Item("p", {"cpu_millis": 0.5}), "items[p].requests.cpu_millis"),
    ("item request type", lambda: Item("p", {"cpu_millis": "1"}), "items[p].requests.cpu_millis"),  # type: ignore[dict-item]
    ("item priority", lambda: Item("p", {}, priority=1.5), "items[p].priority"),  # type: ignore[arg-type]
    ("item priority bool", lambda: Item("p", {}, priority=True), "items[p].priority"),
    ("item kind", lambda: Item("p", {}, kind="container"), "items[p].kind"),
    ("selector operator", lambda: SelectorRequirement("k", "Like"), "matchExpressions.operator"),
    ("selector values", lambda: SelectorRequirement("k", "In"), "matchExpressions.values"),
    ("taint effect", lambda: Taint("k", "v", "Never"), "taints.effect"),
    ("toleration operator", lambda: Toleration("k", "Like"), "tolerations.operator"),
    ("topology key", lambda: AffinityTerm(LabelSelector(), ""), "affinity.topology_key"),
    ("duplicate node", lambda: Snapshot((N, N), ()), "nodes[1].name"),
    ("duplicate item", lambda: Snapshot((N,), (P, P)), "items[1].item_id"),
    ("assignment item", lambda: Snapshot((N,), (P,), {"q": Assignment("n")}), "assignments[q]"),
    (
        "assignment node",
        lambda: Snapshot((N,), (P,), {"p": Assignment("m")}),
        "assignments[p].node",
    ),
    (
        "assignment numa",
        lambda: Snapshot((N,), (P,), {"p": Assignment("n", (1,))}),
        "assignments[p].numa",
    ),
    (
        "assignment numa repeat",
        lambda: Snapshot((N,), (P,), {"p": Assignment("n", (0, 0))}),
        "assignments[p].numa",
    ),
    (
        "budget",
        lambda: Snapshot((N,), (P,), disruption_budgets={"rs": -1}),
        "disruption_budgets[rs]",
    ),
    ("packing", lambda: PodPlacement(SNAP, packing="tight"), "packing"),
    ("max moves", lambda: PodPlacement(SNAP, max_moves=-1), "max_moves"),
    ("vm max moves", lambda: VmPlacement(SNAP, max_moves=math.inf), "max_moves"),  # type: ignore[arg-type]
    ("migration limit", lambda: VmRescheduling(SNAP, migration_limit=-2), "migration_limit"),
    (
        "fragment cores",
        lambda: VmRescheduling(SNAP, migration_limit=1, fragment_cores=0),
        "fragment_cores",
    ),
    (
        "excluded host",
        lambda: VmRescheduling(SNAP, migration_limit=1, excluded_hosts=frozenset({"x"})),
        "excluded_hosts",
    ),
    ("pending vm", lambda: VmRescheduling(PENDING, migration_limit=1), "items[p]"),
    (
        "memory per core",
        lambda: VmRescheduling(SNAP, migration_limit=1, memory_per_core_mb=0),
        "memory_per_core_mb",
    ),
    (
        "cpu resource",
        lambda: VmRescheduling(SNAP, migration_limit=1, cpu_resource=""),
        "cpu_resource",
    ),
]


@pytest.mark.parametrize(("name", "build", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(name: str, build: Callable[[], Any], field: str) -> None:
    with pytest.raises(DomainError) as exc:
        build()
    assert exc.value.field == field
    assert str(exc.value).startswith(f"{field}: ")


def test_numa_nodes_are_normalized() -> None:
    node = Node("n", {}, numa=(NumaNode({"cpu_cores": 4}),))  # type: ignore[arg-type]
    assert isinstance(node.numa[0].capacity, Resources)
    assert node.numa[0].capacity["memory_mb"] == 0


QUANTITY = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.booleans(),
    st.none(),
)


@given(QUANTITY)
def test_quantities_are_whole_non_negative_numbers(value: object) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and float(value).is_integer()
        and value >= 0
    )
    if ok:
        assert Item("p", {"gpu_count": value}).requests["gpu_count"] == int(value)  # type: ignore[dict-item]
    else:
        with pytest.raises(DomainError) as exc:
            Item("p", {"gpu_count": value})  # type: ignore[dict-item]
        assert exc.value.field == "items[p].requests.gpu_count"


UNCHECKED: list[tuple[str, Callable[[], Any], str]] = [
    ("node capacity", lambda: Node("n", Resources({"cpu_millis": -1})), "nodes[n].capacity"),
    (
        "node reserved",
        lambda: Node("n", Resources.of(cpu_millis=1), reserved=Resources({"x": 1.5})),
        "nodes[n].reserved",
    ),
    (
        "numa capacity",
        lambda: Node("n", Resources.of(), numa=(NumaNode(Resources({"x": -2})),)),
        "nodes[n].numa[0].capacity",
    ),
    ("item requests", lambda: Item("p", Resources({"cpu_millis": math.nan})), "items[p].requests"),
]


@pytest.mark.parametrize(("name", "build", "field"), UNCHECKED, ids=[u[0] for u in UNCHECKED])
def test_resources_built_directly_are_still_checked(
    name: str, build: Callable[[], Any], field: str
) -> None:
    # the model takes vectors from Resources.of as they are; any other is checked
    with pytest.raises(DomainError) as exc:
        build()
    assert exc.value.field.startswith(field)


def test_checked_resources_are_kept_and_compare_as_values() -> None:
    res = Resources.of(cpu_millis=2, memory_mib=1)
    node = Node("n", res)
    assert node.capacity is res
    assert res == Resources({"memory_mib": 1, "cpu_millis": 2})
    assert hash(res) == hash(Resources({"cpu_millis": 2, "memory_mib": 1}))
    assert repr(res) == "Resources(quantities={'cpu_millis': 2, 'memory_mib': 1})"
    unchecked = Resources({"memory_mib": 1, "cpu_millis": 2})
    assert Node("n", unchecked).capacity == res
    assert list(Node("n", unchecked).capacity) == ["cpu_millis", "memory_mib"]  # sorted, as of()
