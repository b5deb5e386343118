"""The portfolio's selection (a pure function) and its run loop, with fake
solvers and a fake validator so that only the portfolio's logic is tested."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from optsched.budget import Budget
from optsched.guardrail import GuardRail, GuardState
from optsched.latency import LatencyModel, fit
from optsched.portfolio import Portfolio, select
from optsched.problems.base import ProblemKind
from optsched.registry import Registry
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.validation.report import ValidationReport

KIND = ProblemKind.VM_RESCHEDULING


@dataclass(frozen=True)
class FakeProblem:
    kind: ClassVar[ProblemKind] = KIND
    n: int = 10

    def size(self) -> int:
        return self.n


def caps(kind: SolverKind, warm: bool = False) -> Capabilities:
    return Capabilities(kind, frozenset({KIND}), anytime=kind is SolverKind.EXACT, warm_start=warm)


@dataclass
class Fake:
    name: str
    capabilities: Capabilities
    objective: float | None
    status: Status = Status.FEASIBLE
    calls: list[Any] = field(default_factory=list)

    def solve(self, problem: Any, budget: Budget) -> SolveResult:
        self.calls.append(None)
        return SolveResult(self.status, self.name, objective=self.objective)

    def solve_from(self, problem: Any, budget: Budget, hint: SolveResult) -> SolveResult:
        self.calls.append(hint.solver)
        obj = (
            self.objective if hint.objective is None else min(self.objective or 1e9, hint.objective)
        )
        return SolveResult(self.status, self.name, objective=obj)


def registry_of(*solvers: Fake) -> Registry:
    reg = Registry()
    for s in solvers:
        reg.register(s.name, lambda s=s: s, frozenset({KIND}))
    return reg


def objective_validator(bad: set[str]) -> Any:
    def check(problem: Any, result: SolveResult) -> ValidationReport:
        rep = ValidationReport(objective=result.objective)
        if result.solver in bad:
            rep.add("capacity", "over capacity")
        return rep

    return check


AVAILABLE = {
    "exact": caps(SolverKind.EXACT, warm=True),
    "greedy": caps(SolverKind.HEURISTIC),
    "gnn": caps(SolverKind.LEARNED),
}


def test_select_prefers_learned_then_exact_then_heuristic() -> None:
    assert select(KIND, 100, 1.0, AVAILABLE) == ["gnn", "exact", "greedy"]


def test_select_without_learned_uses_exact_when_it_fits() -> None:
    lat = {"exact": LatencyModel("exact", coef_s=0.001, exponent=1.0)}
    assert select(KIND, 100, 1.0, AVAILABLE, lat, learned_allowed=False) == ["exact", "greedy"]


def test_select_puts_fast_heuristic_first_when_exact_is_too_slow() -> None:
    lat = {"exact": LatencyModel("exact", coef_s=1.0, exponent=1.0)}
    assert select(KIND, 100, 1.0, AVAILABLE, lat, learned_allowed=False) == ["greedy", "exact"]


def test_select_skips_learned_that_does_not_fit() -> None:
    lat = {
        "gnn": LatencyModel("gnn", coef_s=1.0, exponent=1.0),
        "exact": LatencyModel("exact", 1e-4, 1.0),
    }
    assert select(KIND, 100, 1.0, AVAILABLE, lat) == ["exact", "greedy"]


def test_select_ignores_solvers_of_other_kinds() -> None:
    other = {
        "mig": Capabilities(SolverKind.EXACT, frozenset({ProblemKind.GPU_PARTITION_PLACEMENT}))
    }
    assert select(KIND, 10, 1.0, other) == []


def test_run_skips_invalid_answers_and_keeps_the_best_valid() -> None:
    gnn = Fake("gnn", caps(SolverKind.LEARNED), objective=0.30)
    exact = Fake("exact", caps(SolverKind.EXACT, warm=True), objective=0.20)
    greedy = Fake("greedy", caps(SolverKind.HEURISTIC), objective=0.10)
    pf = Portfolio(
        registry_of(gnn, exact, greedy), latency={}, validator=objective_validator({"greedy"})
    )
    result = pf.run(FakeProblem(), Budget(5.0))
    assert result.solver == "exact" and result.objective == pytest.approx(0.20)
    assert exact.calls == ["gnn"], "the exact solver is warm-started from the learned answer"
    assert "greedy: invalid answer" in result.message


@dataclass
class BudgetSpy(Fake):
    budgets: list[float] = field(default_factory=list)

    def solve(self, problem: Any, budget: Budget) -> SolveResult:
        self.budgets.append(budget.seconds)
        return super().solve(problem, budget)


@pytest.mark.parametrize(("seconds", "most"), [(10.0, 3.0), (2.0, 1.0), (0.5, 0.5)])
def test_a_learned_solver_before_an_exact_one_gets_a_share(seconds: float, most: float) -> None:
    # LEARNED_SHARE of the budget, or LEARNED_MIN_S if that is more; never
    # more than the budget
    gnn = BudgetSpy("gnn", caps(SolverKind.LEARNED), objective=0.30)
    exact = Fake("exact", caps(SolverKind.EXACT, warm=True), objective=0.20)
    pf = Portfolio(registry_of(gnn, exact), latency={}, validator=objective_validator(set()))
    pf.run(FakeProblem(), Budget(seconds))
    assert len(gnn.budgets) == 1 and gnn.budgets[0] <= most + 1e-6
    assert gnn.budgets[0] >= min(most, seconds) - 0.05
    # alone (no exact solver after it), it gets all that is left
    alone = BudgetSpy("gnn", caps(SolverKind.LEARNED), objective=0.30)
    Portfolio(registry_of(alone), latency={}, validator=objective_validator(set())).run(
        FakeProblem(), Budget(seconds)
    )
    assert alone.budgets[0] >= seconds - 0.05


def test_run_never_returns_an_invalid_answer() -> None:
    greedy = Fake("greedy", caps(SolverKind.HEURISTIC), objective=0.1)
    pf = Portfolio(registry_of(greedy), latency={}, validator=objective_validator({"greedy"}))
    result = pf.run(FakeProblem(), Budget(1.0))
    assert result.plan is None and not result.status.has_solution
    assert "invalid answer" in result.message


@dataclass
class Broken(Fake):
    def solve(self, problem: Any, budget: Budget) -> SolveResult:
        raise RuntimeError("checkpoint missing")


def test_a_failing_solver_is_skipped_and_named() -> None:
    gnn = Broken("gnn", caps(SolverKind.LEARNED), objective=None)
    greedy = Fake("greedy", caps(SolverKind.HEURISTIC), objective=0.1)
    pf = Portfolio(registry_of(gnn, greedy), latency={}, validator=objective_validator(set()))
    result = pf.run(FakeProblem(), Budget(1.0))
    assert result.solver == "greedy" and result.status is Status.FEASIBLE
    assert "gnn: failed (RuntimeError: checkpoint missing)" in result.message
    with pytest.raises(RuntimeError):
        pf.run(FakeProblem(), Budget(1.0), solver="gnn")


def test_exact_infeasibility_is_final() -> None:
    exact = Fake("exact", caps(SolverKind.EXACT), objective=None, status=Status.INFEASIBLE)
    greedy = Fake("greedy", caps(SolverKind.HEURISTIC), objective=0.1)
    pf = Portfolio(registry_of(exact, greedy), latency={}, validator=objective_validator(set()))
    assert pf.run(FakeProblem(), Budget(1.0), solver="exact").status is Status.INFEASIBLE


def test_learned_gap_feeds_its_guard_rail_and_suspends_it() -> None:
    gnn = Fake("gnn", caps(SolverKind.LEARNED), objective=0.5)
    exact = Fake("exact", caps(SolverKind.EXACT, warm=False), objective=0.25)
    pf = Portfolio(registry_of(gnn, exact), latency={}, validator=objective_validator(set()))
    pf.guards["gnn"] = GuardRail(max_gap=0.05, window=5, min_samples=3)
    for _ in range(3):
        pf.run(FakeProblem(), Budget(1.0))
    assert pf.guards["gnn"].state is GuardState.SUSPENDED
    assert pf.plan(FakeProblem(), Budget(1.0)) == ["exact"]


def test_guard_rail_recovers_and_refuses_out_of_distribution() -> None:
    g = GuardRail(max_gap=0.1, window=4, min_samples=2, size_range=(10, 100))
    assert g.record(0.5) is GuardState.SERVING  # not enough samples yet
    assert g.record(0.5) is GuardState.SUSPENDED
    for _ in range(4):
        g.record(0.0)
    assert g.state is GuardState.SERVING
    assert g.allows(50) and not g.allows(5) and not g.allows(500)


def test_latency_fit_recovers_a_power_law() -> None:
    samples = [(s, 0.002 * s**1.5) for s in (10, 100, 1000, 10000)]
    m = fit("x", samples)
    assert m.exponent == pytest.approx(1.5, rel=1e-6)
    assert m.predict(1000) == pytest.approx(0.002 * 1000**1.5 + m.floor_s, rel=1e-6)


@dataclass
class Lazy(Fake):
    """A solver that loads something on warm-up."""

    loaded: int = 0

    def warm_up(self) -> None:
        self.loaded += 1


def test_warm_up_calls_each_solvers_hook_once() -> None:
    gnn = Lazy("gnn", caps(SolverKind.LEARNED), objective=0.3)
    greedy = Fake("greedy", caps(SolverKind.HEURISTIC), objective=0.1)
    pf = Portfolio(registry_of(gnn, greedy), latency={}, validator=objective_validator(set()))
    assert pf.warm_up() == ["gnn"] and gnn.loaded == 1


def test_warm_up_of_a_kind_or_a_named_solver_loads_only_those() -> None:
    gnn = Lazy("gnn", caps(SolverKind.LEARNED), objective=0.3)
    other = Lazy("other", caps(SolverKind.LEARNED), objective=0.3)
    reg = registry_of(gnn)
    reg.register("other", lambda: other, frozenset({ProblemKind.POD_PLACEMENT}))
    pf = Portfolio(reg, latency={}, validator=objective_validator(set()))
    assert pf.warm_up(KIND) == ["gnn"] and (gnn.loaded, other.loaded) == (1, 0)
    assert pf.warm_up(solver="other") == ["other"] and (gnn.loaded, other.loaded) == (1, 1)
    assert pf.warm_up(ProblemKind.GPU_PARTITION_PLACEMENT) == []
