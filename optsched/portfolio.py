"""The portfolio: chooses solvers for a problem and a budget, runs them,
and never returns an answer that fails the validator.

:func:`select` is a pure function from (problem kind, size, budget, the
available solvers, their latency models, the learned solvers' guard-rail
verdict) to an ordered list of solver names:

* the learned solver goes first when its guard-rail lets it serve and its
  latency model fits the budget; the exact solvers follow, warm-started from
  its answer (learned -> CP-SAT hinted with the best answer so far ->
  heuristic), which also measures the learned answer's gap; the learned
  solver then plans with a share of the budget (``LEARNED_SHARE``, at least
  ``LEARNED_MIN_S``), not all of it;
* otherwise an exact solver whose latency model says it reaches a first
  answer within the budget goes first (it hints itself from its heuristic);
* otherwise the heuristics that fit go first and the exact solvers follow to
  improve on their answer with what is left;
* heuristics are always in the chain as the last resort.

:class:`Portfolio` executes the chain: each answer is validated, the best
valid one is kept (objectives are recomputed by the validator; lower is
better), warm-startable solvers get it as their hint, and when an exact
solver runs after the learned one the learned answer's gap is recorded in its
guard-rail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from optsched import names
from optsched.budget import Budget
from optsched.guardrail import GuardRail
from optsched.heap import settle_heap
from optsched.latency import LatencyModel, load_models
from optsched.problems.base import ProblemKind
from optsched.registry import Registry, load_builtin
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind, WarmStartSolver
from optsched.validate import validate
from optsched.validation.report import ValidationReport

log = logging.getLogger(__name__)

# Preference order per kind among solvers of the same class (exact, heuristic).
DEFAULT_CHAINS: dict[ProblemKind, tuple[str, ...]] = {
    ProblemKind.POD_PLACEMENT: (
        names.CPSAT_PLACEMENT,
        names.KUBE_DEFAULT,
        names.FIRST_FIT_DECREASING,
    ),
    ProblemKind.VM_PLACEMENT: (
        names.CPSAT_PLACEMENT,
        names.BEST_FIT_DECREASING,
        names.FIRST_FIT_DECREASING,
    ),
    ProblemKind.VM_RESCHEDULING: (
        names.CPSAT_RESCHEDULE,
        names.LNS_RESCHEDULE,
        names.GREEDY_RESCHEDULE,
    ),
    ProblemKind.GPU_PARTITION_PLACEMENT: (names.CPSAT_MIG, names.GREEDY_MIG),
    ProblemKind.MODEL_PLACEMENT: (names.CPSAT_SENSITIVITY, names.SENSITIVITY_GREEDY),
    ProblemKind.BACKEND_SIZING: (names.SWAYAM,),
    ProblemKind.FREQUENCY_CONTROL: (names.MIAD,),
}

# An exact solver "fits" when its predicted time to a first answer is at most
# this share of the budget (the rest absorbs the latency model's error).
FIT_SHARE = 0.5
# A learned solver first in the chain, with an exact solver after it, plans
# with at most this share of the budget: it sizes its sampling (K) to the
# time it is given, and with all of it the exact solver got the remainder
# only (medium rescheduling, MNL 50, 10 s: the policy took 5.7 s; the exact
# solver, which proves that optimum in about 1.5 s, answered at 7.2 s).
LEARNED_SHARE = 0.3
# ... but never less than this: under it the policy is the answer (the exact
# solver needs about a second on medium to prove anything), and cutting its
# K made the answer worse (generated medium, MNL 50, 1 s: 0.4491, not 0.4261)
LEARNED_MIN_S = 1.0


def select(
    kind: ProblemKind,
    size: int,
    budget_s: float,
    available: Mapping[str, Capabilities],
    latency: Mapping[str, LatencyModel] | None = None,
    learned_allowed: bool = True,
) -> list[str]:
    """Ordered solver names to try; a pure function of its arguments."""
    latency = latency or {}
    usable = {n: c for n, c in available.items() if kind in c.problem_kinds}
    rank = {n: i for i, n in enumerate(DEFAULT_CHAINS.get(kind, ()))}

    def ordered(k: SolverKind) -> list[str]:
        return sorted(
            (n for n, c in usable.items() if c.kind is k), key=lambda n: (rank.get(n, len(rank)), n)
        )

    def fits(n: str) -> bool:
        model = latency.get(n)
        return model is None or model.predict(size) <= budget_s * FIT_SHARE

    exact, heuristic = ordered(SolverKind.EXACT), ordered(SolverKind.HEURISTIC)
    learned = [n for n in ordered(SolverKind.LEARNED) if fits(n)] if learned_allowed else []
    if learned:
        first = learned
    elif any(fits(n) for n in exact):
        first = [n for n in exact if fits(n)]
    else:
        first = [n for n in heuristic if fits(n)] or heuristic[:1]
    return first + [n for n in exact + heuristic if n not in first]


@dataclass
class Portfolio:
    """Runs solvers for problems; holds the latency models and the learned
    solvers' guard-rails (the service keeps one portfolio for its lifetime)."""

    registry: Registry = field(default_factory=load_builtin)
    latency: Mapping[str, LatencyModel] = field(default_factory=load_models)
    guards: dict[str, GuardRail] = field(default_factory=dict)
    solver_config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    validator: Callable[[Any, SolveResult], ValidationReport] = validate

    def capabilities(self) -> dict[str, Capabilities]:
        return {
            n: self.registry.create(n, **self.solver_config.get(n, {})).capabilities
            for n in self.registry.names()
        }

    def warm_up(self, kind: ProblemKind | None = None, solver: str | None = None) -> list[str]:
        """Load what each solver loads lazily (a learned policy and its
        framework), so that the first request's budget is spent solving:
        every solver, those for problems of ``kind``, or the one named.
        Solvers opt in with a ``warm_up()`` method; returns their names."""
        done = []
        for name in [solver] if solver else self.registry.names(kind):
            impl = self.registry.create(name, **self.solver_config.get(name, {}))
            hook = getattr(impl, "warm_up", None)
            if callable(hook):
                hook()
                done.append(name)
        return done

    def guard(self, name: str) -> GuardRail:
        return self.guards.setdefault(name, GuardRail())

    def plan(self, problem: Any, budget: Budget) -> list[str]:
        caps = self.capabilities()
        learned_ok = all(
            self.guard(n).allows(problem.size())
            for n, c in caps.items()
            if c.kind is SolverKind.LEARNED
        )
        return select(
            problem.kind, problem.size(), budget.remaining(), caps, self.latency, learned_ok
        )

    def _share(self, impl: Any, chain: list[str], name: str, budget: Budget) -> float:
        """The seconds ``name`` may use: what is left, except that a learned
        solver with an exact solver after it gets at most ``LEARNED_SHARE``
        of the budget, or ``LEARNED_MIN_S`` if that is more (it sizes its
        sampling to whatever it is given)."""
        left = budget.remaining()
        if impl.capabilities.kind is not SolverKind.LEARNED:
            return left
        caps = self.capabilities()
        rest = chain[chain.index(name) + 1 :]
        if any(n in caps and caps[n].kind is SolverKind.EXACT for n in rest):
            return min(left, max(budget.seconds * LEARNED_SHARE, LEARNED_MIN_S))
        return left

    def run(self, problem: Any, budget: Budget, solver: str | None = None) -> SolveResult:
        """Solve within ``budget`` with the named solver only, or the chain.
        The answer has passed the validator, or carries no plan and says why."""
        chain = [solver] if solver else self.plan(problem, budget)
        if not chain:
            return SolveResult(
                Status.NO_SOLUTION_IN_TIME,
                solver="portfolio",
                message=f"no solver for {problem.kind}",
            )
        best: SolveResult | None = None
        best_obj: float | None = None
        learned_obj: tuple[str, float] | None = None
        notes: list[str] = []
        last: SolveResult | None = None
        for name in chain:
            if best is not None and budget.expired():
                break
            impl = self.registry.create(name, **self.solver_config.get(name, {}))
            sub = Budget(max(self._share(impl, chain, name, budget), 1e-3))
            try:
                if (
                    best is not None
                    and isinstance(impl, WarmStartSolver)
                    and impl.capabilities.warm_start
                ):
                    result = impl.solve_from(problem, sub, best)
                else:
                    result = impl.solve(problem, sub)
            except Exception as exc:  # noqa: BLE001 - one solver's failure must not sink the chain
                if len(chain) == 1:
                    raise
                log.exception("solver %s failed; trying the next in the chain", name)
                notes.append(f"{name}: failed ({type(exc).__name__}: {exc})")
                continue
            last = result
            if not result.status.has_solution:
                notes.append(
                    f"{name}: {result.status.value}{' (' + result.message + ')' if result.message else ''}"
                )
                # an exact solver's proof of infeasibility ends the chain; its
                # INVALID_INPUT may only mean a rule it does not model (taints
                # in rescheduling: reschedule.scope), which another solver may
                if (
                    result.status is Status.INFEASIBLE
                    and impl.capabilities.kind is SolverKind.EXACT
                ):
                    return result
                continue
            report = self.validator(problem, result)
            if not report.ok:
                log.error("solver %s returned an invalid answer: %s", name, report.summary())
                notes.append(f"{name}: invalid answer ({report.summary(2)})")
                continue
            obj = report.objective if report.objective is not None else result.objective
            if impl.capabilities.kind is SolverKind.LEARNED and obj is not None:
                learned_obj = (name, float(obj))
            elif (
                impl.capabilities.kind is SolverKind.EXACT
                and learned_obj is not None
                and obj is not None
            ):
                ref = float(obj)
                self.guard(learned_obj[0]).record((learned_obj[1] - ref) / max(abs(ref), 1e-9))
            if best is None or (obj is not None and (best_obj is None or obj < best_obj)):
                best, best_obj = result, obj
            if result.status is Status.OPTIMAL:
                break
        if best is not None:
            return replace(
                best, wall_time_s=budget.elapsed(), message="; ".join(notes) or best.message
            )
        msg = "; ".join(notes)
        if last is None:
            return SolveResult(Status.NO_SOLUTION_IN_TIME, solver="portfolio", message=msg)
        status = Status.NO_SOLUTION_IN_TIME if last.status.has_solution else last.status
        return replace(last, status=status, plan=None, solution=None, message=msg or last.message)


def run(
    problem: Any, budget: Budget, solver: str | None = None, portfolio: Portfolio | None = None
) -> SolveResult:
    """Solve in a process that has not warmed up (the CLI, a batch job's own
    process), with ``portfolio`` or a fresh one over the built-in solvers.
    The solvers that may answer load their models first, outside ``budget``
    (as the service does once at start-up): a cold learned policy would
    otherwise spend seconds of it importing its framework. Then, as the
    service does, what is loaded leaves the garbage collector's full
    collections (:func:`optsched.heap.settle_heap`)."""
    portfolio = portfolio or Portfolio()
    portfolio.warm_up(problem.kind, solver)
    settle_heap()
    return portfolio.run(problem, Budget(budget.seconds), solver)
