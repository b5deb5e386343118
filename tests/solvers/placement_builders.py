"""Small builders for placement tests (as kube-scheduler's fit_test.go)."""

from __future__ import annotations

from typing import Any

from optsched.budget import Budget
from optsched.model import Assignment, Item, Node, NumaNode, Snapshot
from optsched.problems import PodPlacement
from optsched.registry import create
from optsched.results import SolveResult
from optsched.validate import validate

CPSAT_TEST_OPTIONS: dict[str, Any] = {"num_workers": 1, "random_seed": 7}


def node(name: str, cpu: int = 1000, mem: int = 1000, pods: int = 10, **kw: Any) -> Node:
    extra = kw.pop("extra", {})
    return Node(name, {"cpu_millis": cpu, "memory_mib": mem, "pods": pods, **extra}, **kw)


def vm_host(name: str, numa_cores: int, n_numa: int = 2, mem: int = 1000) -> Node:
    numa = tuple(NumaNode({"cpu_cores": numa_cores, "memory_mb": mem}) for _ in range(n_numa))
    return Node(name, {"cpu_cores": numa_cores * n_numa, "memory_mb": mem * n_numa}, numa=numa)


def pod(name: str, cpu: int = 100, mem: int = 100, priority: int = 0, **kw: Any) -> Item:
    extra = kw.pop("extra", {})
    return Item(
        name, {"cpu_millis": cpu, "memory_mib": mem, "pods": 1, **extra}, priority=priority, **kw
    )


def snapshot(
    nodes: list[Node], items: list[Item], where: dict[str, str] | None = None, **kw: Any
) -> Snapshot:
    assignments = {i: Assignment(n) for i, n in (where or {}).items()}
    return Snapshot(tuple(nodes), tuple(items), assignments, **kw)


def solve(name: str, problem: PodPlacement, seconds: float = 5.0) -> SolveResult:
    """Solve with ``name`` and insist that the independent validator accepts it."""
    options = CPSAT_TEST_OPTIONS if name == "cpsat-placement" else {}
    result = create(name, **options).solve(problem, Budget(seconds))
    assert result.status.has_solution, (result.status, result.message)
    report = validate(problem, result)
    assert report.ok, report.summary()
    return result


def final(problem: PodPlacement, result: SolveResult) -> dict[str, str]:
    assert result.plan is not None
    return {i: a.node for i, a in result.plan.final_assignments(problem.snapshot).items()}
