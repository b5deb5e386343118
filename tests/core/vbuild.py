"""Small builders for validator tests: nodes, items, actions and results."""

from __future__ import annotations

from typing import Any

from optsched.model import (
    HOSTNAME_KEY,
    AffinityTerm,
    Assignment,
    Item,
    LabelSelector,
    Node,
    NumaNode,
    Resources,
)
from optsched.results import Action, ActionKind, Plan, SolveResult, Status, Unplaced

Where = str | Assignment


def node(name: str, cpu: int = 1000, mem: int = 1024, **kw: Any) -> Node:
    return Node(name, Resources.of(cpu_millis=cpu, memory_mib=mem), **kw)


def numa_node(name: str, cores: int = 16, mem: int = 64, numa: int = 2, **kw: Any) -> Node:
    """A VM host with ``numa`` NUMA nodes of ``cores`` cores and ``mem`` MB each."""
    per = Resources.of(cpu_cores=cores, memory_mb=mem)
    total = Resources.of(cpu_cores=cores * numa, memory_mb=mem * numa)
    return Node(name, total, numa=tuple(NumaNode(per) for _ in range(numa)), **kw)


def item(
    iid: str, cpu: int = 100, mem: int = 0, extra: dict[str, int] | None = None, **kw: Any
) -> Item:
    return Item(iid, Resources.of(extra, cpu_millis=cpu, memory_mib=mem), **kw)


def vm(iid: str, cores: int = 4, mem: int = 8, **kw: Any) -> Item:
    return Item(iid, Resources.of(cpu_cores=cores, memory_mb=mem), kind="vm", **kw)


def term(
    topology_key: str = HOSTNAME_KEY, namespaces: tuple[str, ...] = (), **labels: str
) -> AffinityTerm:
    return AffinityTerm(LabelSelector(labels), topology_key, namespaces)


def at(where: Where | None) -> Assignment | None:
    return Assignment(where) if isinstance(where, str) else where


def place(iid: str, dst: Where) -> Action:
    return Action(ActionKind.PLACE, iid, None, at(dst))


def move(iid: str, src: Where, dst: Where) -> Action:
    return Action(ActionKind.MOVE, iid, at(src), at(dst))


def evict(iid: str, src: Where) -> Action:
    return Action(ActionKind.EVICT, iid, at(src), None)


def result(*actions: Action, unplaced: tuple[str, ...] = ()) -> SolveResult:
    return SolveResult(
        Status.FEASIBLE,
        "test",
        Plan(tuple(actions)),
        unplaced=tuple(Unplaced(i, "no room") for i in unplaced),
    )
