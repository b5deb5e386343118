"""A solver plugin for subprocess servers (``--plugin svc_plugin``): it holds
its worker for its whole budget and then answers "no moves", so a test
knows a job is still running when it acts on it."""

from __future__ import annotations

import time
from typing import Any

from optsched.budget import Budget
from optsched.problems.base import ProblemKind
from optsched.registry import register
from optsched.results import Plan, SolveResult, Status
from optsched.solver import Capabilities, SolverKind

NAME = "test-hold"
KINDS = frozenset({ProblemKind.VM_RESCHEDULING})


@register(NAME, KINDS)
class HoldSolver:
    name = NAME
    capabilities = Capabilities(SolverKind.HEURISTIC, KINDS)

    def solve(self, problem: Any, budget: Budget) -> SolveResult:
        time.sleep(budget.remaining() * 0.9)
        return SolveResult(Status.FEASIBLE, self.name, plan=Plan(()))
