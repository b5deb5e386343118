"""The solver protocol: a name, capabilities, and ``solve``.

One small Protocol per capability (as kube-scheduler's extension points): a
solver that can be warm-started also implements :class:`WarmStartSolver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from optsched.budget import Budget
from optsched.problems.base import ProblemKind
from optsched.results import SolveResult


class SolverKind(StrEnum):
    EXACT = "exact"
    LEARNED = "learned"
    HEURISTIC = "heuristic"


@dataclass(frozen=True)
class Capabilities:
    kind: SolverKind
    problem_kinds: frozenset[ProblemKind]
    anytime: bool = False
    warm_start: bool = False
    deterministic: bool = True


@runtime_checkable
class Solver(Protocol):
    name: str
    capabilities: Capabilities

    def solve(self, problem: Any, budget: Budget) -> SolveResult: ...


@runtime_checkable
class WarmStartSolver(Solver, Protocol):
    def solve_from(self, problem: Any, budget: Budget, hint: SolveResult) -> SolveResult:
        """Solve with ``hint`` (a valid answer) as the starting point; the
        answer is never worse than the hint."""
        ...
