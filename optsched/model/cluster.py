"""Nodes, items (pods and VMs), placements and the cluster snapshot.

All objects are frozen dataclasses validated on construction: a negative,
NaN or infinite quantity, a duplicate id or a reference to a missing node
raises :class:`~optsched.errors.DomainError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from optsched.errors import DomainError
from optsched.model.labels import HOSTNAME_KEY, AffinityTerm, Taint, Toleration
from optsched.model.resources import Resources, check_quantity, is_checked


def _is_checked(value: Any) -> bool:
    """Whether ``value`` needs no check: a Resources built from checked
    quantities, or an empty one (the default of every optional vector)."""
    return isinstance(value, Resources) and (
        is_checked(value) or (type(value.quantities) is dict and not value.quantities)
    )


def _resources(value: Any, where: str) -> Resources:
    if isinstance(value, Resources):
        return Resources.of(value.quantities, where=where)
    if not isinstance(value, Mapping):
        raise DomainError(where, "must be a mapping of resource name to quantity")
    return Resources.of(value, where=where)


@dataclass(frozen=True)
class NumaNode:
    """One NUMA node of a host: its capacity and the part of it reserved
    outside the items listed in the snapshot (that reservation never moves)."""

    capacity: Resources
    reserved: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class MigInstance:
    """A MIG GPU instance: profile name, first memory slice, busy flag."""

    instance_id: str
    profile: str
    start_slice: int
    busy: bool = False


@dataclass(frozen=True)
class Gpu:
    gpu_id: str
    model: str
    instances: tuple[MigInstance, ...] = ()


@dataclass(frozen=True)
class Node:
    """A host. ``capacity`` is what items may use (Kubernetes allocatable).
    ``schedulable`` False means no new item may land here (cordoned,
    draining, outage) though items already on it may stay or leave."""

    name: str
    capacity: Resources
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    numa: tuple[NumaNode, ...] = ()
    gpus: tuple[Gpu, ...] = ()
    schedulable: bool = True
    cluster: str = ""
    reserved: Resources = field(default_factory=Resources)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise DomainError("node.name", "must be a non-empty string")
        # vectors from Resources.of (or a checking converter) are taken as
        # they are; anything else is checked here, its path built only then
        if not _is_checked(self.capacity):
            where = f"nodes[{self.name}].capacity"
            object.__setattr__(self, "capacity", _resources(self.capacity, where))
        if not _is_checked(self.reserved):
            where = f"nodes[{self.name}].reserved"
            object.__setattr__(self, "reserved", _resources(self.reserved, where))
        object.__setattr__(self, "labels", dict(self.labels))
        numa = []
        for i, n in enumerate(self.numa):
            if not isinstance(n, NumaNode):
                raise DomainError(f"nodes[{self.name}].numa[{i}]", "must be a NumaNode")
            if not (_is_checked(n.capacity) and _is_checked(n.reserved)):
                where = f"nodes[{self.name}].numa[{i}]"
                cap = _resources(n.capacity, f"{where}.capacity")
                n = NumaNode(cap, _resources(n.reserved, f"{where}.reserved"))
            numa.append(n)
        object.__setattr__(self, "numa", tuple(numa))

    def __hash__(self) -> int:
        return hash(self.name)

    def label(self, key: str) -> str | None:
        if key == HOSTNAME_KEY:
            return self.labels.get(key, self.name)
        return self.labels.get(key)


@dataclass(frozen=True)
class Item:
    """A pod or a VM.

    ``numa_split``: for NUMA-aware placement, the item sits on one NUMA node
    (False) or splits its request evenly over two (True); a split item's
    quantities must be even, so that every layer (validator, solvers, the
    learned policy's features) agrees on the half. ``owner`` groups
    items under one disruption budget (a ReplicaSet, a deployment set).
    """

    item_id: str
    requests: Resources
    priority: int = 0
    namespace: str = "default"
    owner: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    movable: bool = True
    evictable: bool = True
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    affinity: tuple[AffinityTerm, ...] = ()
    anti_affinity: tuple[AffinityTerm, ...] = ()
    numa_split: bool = False
    kind: str = "pod"
    cluster: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.item_id, str) or not self.item_id:
            raise DomainError("item.item_id", "must be a non-empty string")
        if not _is_checked(self.requests):
            where = f"items[{self.item_id}].requests"
            object.__setattr__(self, "requests", _resources(self.requests, where))
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise DomainError(f"items[{self.item_id}].priority", "must be an integer")
        if self.kind not in ("pod", "vm"):
            raise DomainError(
                f"items[{self.item_id}].kind", f"must be 'pod' or 'vm', got {self.kind!r}"
            )
        if self.numa_split:
            for name, q in self.requests.items():
                if q % 2:
                    raise DomainError(
                        f"items[{self.item_id}].requests.{name}",
                        f"a NUMA-split item puts half of each quantity on each of two NUMA "
                        f"nodes, so it must be even, got {q}",
                    )
        object.__setattr__(self, "labels", dict(self.labels))
        object.__setattr__(self, "node_selector", dict(self.node_selector))

    def __hash__(self) -> int:
        return hash(self.item_id)


@dataclass(frozen=True)
class Assignment:
    """Where an item sits: a node and, on NUMA hosts, the NUMA nodes it uses
    (one, or two for a split item; empty when NUMA is not modelled)."""

    node: str
    numa: tuple[int, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """Nodes, items and the current assignment of the placed items. Items not
    in ``assignments`` are pending. ``disruption_budgets`` maps an owner to the
    largest number of its items that may be evicted or moved."""

    nodes: tuple[Node, ...]
    items: tuple[Item, ...]
    assignments: Mapping[str, Assignment] = field(default_factory=dict)
    disruption_budgets: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "assignments", dict(self.assignments))
        object.__setattr__(self, "disruption_budgets", dict(self.disruption_budgets))
        node_by_name: dict[str, Node] = {}
        for i, n in enumerate(self.nodes):
            if n.name in node_by_name:
                raise DomainError(f"nodes[{i}].name", f"duplicate node name {n.name!r}")
            node_by_name[n.name] = n
        item_ids: set[str] = set()
        for i, it in enumerate(self.items):
            if it.item_id in item_ids:
                raise DomainError(f"items[{i}].item_id", f"duplicate item id {it.item_id!r}")
            item_ids.add(it.item_id)
        for item_id, a in self.assignments.items():
            if item_id not in item_ids:
                raise DomainError(f"assignments[{item_id}]", f"unknown item {item_id!r}")
            node = node_by_name.get(a.node)
            if node is None:
                raise DomainError(f"assignments[{item_id}].node", f"unknown node {a.node!r}")
            if a.numa:
                _check_numa(a, node, f"assignments[{item_id}].numa")
        for owner, k in self.disruption_budgets.items():
            if type(k) is not int or k < 0:  # the path is built only for a bad value
                check_quantity(k, f"disruption_budgets[{owner}]")

    @cached_property
    def node_index(self) -> dict[str, int]:
        return {n.name: i for i, n in enumerate(self.nodes)}

    @cached_property
    def item_index(self) -> dict[str, int]:
        return {it.item_id: i for i, it in enumerate(self.items)}

    def node(self, name: str) -> Node:
        return self.nodes[self.node_index[name]]

    def item(self, item_id: str) -> Item:
        return self.items[self.item_index[item_id]]

    @property
    def pending(self) -> list[Item]:
        return [it for it in self.items if it.item_id not in self.assignments]

    @property
    def placed(self) -> list[Item]:
        return [it for it in self.items if it.item_id in self.assignments]

    def with_assignments(self, assignments: Mapping[str, Assignment]) -> Snapshot:
        return Snapshot(self.nodes, self.items, assignments, self.disruption_budgets)

    def items_on(self, node: str) -> list[Item]:
        return [self.item(i) for i, a in self.assignments.items() if a.node == node]


def _check_numa(a: Assignment, node: Node, where: str) -> None:
    for k in a.numa:
        if not 0 <= k < len(node.numa):
            raise DomainError(where, f"node {a.node!r} has no NUMA node {k}")
    if len(set(a.numa)) != len(a.numa):
        raise DomainError(where, "repeats a NUMA node")


def by_id(items: Sequence[Item]) -> dict[str, Item]:
    return {it.item_id: it for it in items}
