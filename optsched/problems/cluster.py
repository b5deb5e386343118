"""Cluster problems: placing pods or VMs, and rescheduling VMs.

Each says what is fixed, what may move, the limits and the objective; the
solvers read these fields and the validator checks answers against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from optsched.errors import DomainError
from optsched.model.cluster import Item, Snapshot
from optsched.model.resources import CPU_CORES, check_quantity
from optsched.problems.base import ProblemKind

PACKING_MOST = "most_allocated"
PACKING_LEAST = "least_allocated"
PACKING_CHOICES = (PACKING_MOST, PACKING_LEAST)
DEFAULT_PROTECTED_NAMESPACES = ("kube-system",)


@dataclass(frozen=True)
class PodPlacement:
    """Place the pending items of ``snapshot``; running items may move (if
    movable and moves are allowed) or be evicted (if evictable and evictions
    are allowed) to make room. Items in a protected namespace never change.

    Objective, lexicographic: (1) for each priority tier from the highest
    down, the number of items placed at that priority or above; (2) fewest
    evictions weighted by priority; (3) fewest moves; (4) packing
    (``most_allocated`` or ``least_allocated``).
    """

    kind: ClassVar[ProblemKind] = ProblemKind.POD_PLACEMENT

    snapshot: Snapshot
    allow_evictions: bool = True
    allow_moves: bool = True
    packing: str = PACKING_MOST
    protected_namespaces: tuple[str, ...] = DEFAULT_PROTECTED_NAMESPACES
    max_moves: int | None = None

    def __post_init__(self) -> None:
        if self.packing not in PACKING_CHOICES:
            raise DomainError("packing", f"must be one of {PACKING_CHOICES}, got {self.packing!r}")
        if self.max_moves is not None:
            check_quantity(self.max_moves, "max_moves")

    def size(self) -> int:
        return len(self.snapshot.nodes) + len(self.snapshot.items)

    def is_protected(self, item: Item) -> bool:
        return item.namespace in self.protected_namespaces

    def may_move(self, item: Item) -> bool:
        return self.allow_moves and item.movable and not self.is_protected(item)

    def may_evict(self, item: Item) -> bool:
        return self.allow_evictions and item.evictable and not self.is_protected(item)


@dataclass(frozen=True)
class VmPlacement(PodPlacement):
    """Pod placement for VMs on NUMA hosts: an item sits on one NUMA node, or
    (``numa_split``) splits its request evenly over two NUMA nodes of one host."""

    kind: ClassVar[ProblemKind] = ProblemKind.VM_PLACEMENT
    protected_namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class VmRescheduling:
    """Migrate at most ``migration_limit`` VMs (the MNL) to minimize the
    fragment rate: sum over schedulable hosts and NUMA nodes of
    ``free_cpu mod fragment_cores`` divided by total free CPU (VMR2L).

    A VM migrates only within its own ``cluster``; ``excluded_hosts`` are never
    destinations; non-movable VMs stay. With ``memory_aware`` a NUMA node's
    free CPU counts only as far as its free memory can serve it at
    ``memory_per_core_mb`` (a variant objective; off by default).
    """

    kind: ClassVar[ProblemKind] = ProblemKind.VM_RESCHEDULING

    snapshot: Snapshot
    migration_limit: int
    fragment_cores: int = 16
    excluded_hosts: frozenset[str] = field(default_factory=frozenset)
    cpu_resource: str = CPU_CORES
    memory_aware: bool = False
    memory_per_core_mb: int = 4096

    def __post_init__(self) -> None:
        check_quantity(self.migration_limit, "migration_limit")
        check_quantity(self.fragment_cores, "fragment_cores")
        if self.fragment_cores < 1:
            raise DomainError("fragment_cores", "must be at least 1")
        check_quantity(self.memory_per_core_mb, "memory_per_core_mb")
        if self.memory_per_core_mb < 1:
            raise DomainError("memory_per_core_mb", "must be at least 1")
        if not isinstance(self.cpu_resource, str) or not self.cpu_resource:
            raise DomainError("cpu_resource", "must be a non-empty resource name")
        object.__setattr__(self, "excluded_hosts", frozenset(self.excluded_hosts))
        for h in self.excluded_hosts:
            if h not in self.snapshot.node_index:
                raise DomainError("excluded_hosts", f"unknown host {h!r}")
        for it in self.snapshot.items:
            if it.item_id not in self.snapshot.assignments:
                raise DomainError(f"items[{it.item_id}]", "rescheduling needs every VM placed")

    def size(self) -> int:
        return len(self.snapshot.nodes) + len(self.snapshot.items)

    def is_destination(self, node: str) -> bool:
        return node not in self.excluded_hosts and self.snapshot.node(node).schedulable
