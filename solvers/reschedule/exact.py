"""Exact rescheduling with CP-SAT: greedy hint -> class model -> solve ->
disaggregate -> sequence (:mod:`.cpsat_model`, :mod:`.classes`,
:mod:`.sequencing`).

When the fragment rate's denominator is the same for every plan (see
:mod:`.cpsat_model`), one solve minimizing the sum of remainders is exact.
Otherwise Dinkelbach's method solves the fractional program: with ``R_k/T_k``
the best ratio so far, minimize ``T_k * R - R_k * T``; a negative optimum is a
better plan, a zero optimum proves ``R_k/T_k`` optimal.

The answer is never worse than the greedy hint: if the model's answer cannot
be sequenced within the migration limit, or is worse, the hint is returned.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from optsched import names
from optsched.budget import Budget
from optsched.errors import ConfigError
from optsched.problems.base import ProblemKind
from optsched.problems.cluster import VmRescheduling
from optsched.registry import register
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers.reschedule import cpsat_model as cpm
from optsched.solvers.reschedule.classes import disaggregate, vm_classes
from optsched.solvers.reschedule.greedy import greedy
from optsched.solvers.reschedule.result import state_result
from optsched.solvers.reschedule.sequencing import Sequenced, sequence
from optsched.solvers.reschedule.state import RescheduleState

HINT_SHARE = 0.1  # of the budget, for the greedy hint
SEQUENCING_SHARE = 0.1  # of the budget, kept for disaggregation and sequencing
MIN_SOLVE_S = 0.05
MAX_DINKELBACH_ROUNDS = 50


@dataclass(frozen=True)
class CpsatArgs:
    """``num_workers`` defaults to the machine's cores; tests use one worker
    and a fixed seed for determinism."""

    num_workers: int = os.cpu_count() or 1
    random_seed: int = 0
    hint_with_greedy: bool = True

    def __post_init__(self) -> None:
        if self.num_workers < 1:
            raise ConfigError(f"num_workers must be at least 1, got {self.num_workers}")


def cpsat_status(code: int, has_solution: bool) -> Status:
    """CP-SAT status -> :class:`Status`, in one place."""
    if code == cp_model.OPTIMAL:
        return Status.OPTIMAL
    if code == cp_model.FEASIBLE:
        return Status.FEASIBLE
    if code == cp_model.INFEASIBLE:
        return Status.INFEASIBLE
    if code == cp_model.MODEL_INVALID:
        return Status.INVALID_INPUT
    return Status.FEASIBLE if has_solution else Status.NO_SOLUTION_IN_TIME


@dataclass(frozen=True)
class ModelAnswer:
    status: Status
    values: dict[cpm.Key, int] | None
    frag: int | None  # R of the answer
    free: int | None  # T of the answer
    bound: float | None  # lower bound on the objective as set
    objective: float | None


def solve_model(cm: cpm.ClassModel, seconds: float, args: CpsatArgs) -> ModelAnswer:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(MIN_SOLVE_S, seconds)
    solver.parameters.num_workers = args.num_workers
    solver.parameters.random_seed = args.random_seed
    code = solver.solve(cm.model)
    found = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    status = cpsat_status(code, found)
    if not found:
        return ModelAnswer(status, None, None, None, None, None)
    return ModelAnswer(
        status,
        {k: int(solver.value(v)) for k, v in cm.x.items()},
        cm.frag_fixed + int(sum(solver.value(r) for r in cm.rem)),
        cm.free_fixed + int(sum(solver.value(e) for e in cm.eff)),
        float(solver.best_objective_bound),
        float(solver.objective_value),
    )


@dataclass(frozen=True)
class Optimum:
    values: dict[cpm.Key, int] | None
    proven: bool
    bound_fr: float | None


def optimize(
    cm: cpm.ClassModel, start: RescheduleState, deadline: float, args: CpsatArgs
) -> Optimum:
    """Minimize the fragment rate over ``cm`` (hinted with ``start``'s counts)."""
    if cm.constant_free:
        t_scope = cpm.set_slot_objective(cm)
        cpm.hint(cm, start)
        ans = solve_model(cm, deadline - time.monotonic(), args)
        total, f = start.free_sum, start.problem.fragment_cores
        if total <= 0:
            return Optimum(ans.values, ans.status is Status.OPTIMAL, 0.0)
        bound = None
        if ans.bound is not None:  # most slots -> least remainder
            bound = max(0.0, cm.frag_fixed + t_scope - f * int(ans.bound + 1e-6)) / total
        return Optimum(ans.values, ans.status is Status.OPTIMAL, bound)
    return _dinkelbach(cm, start, deadline, args)


def _dinkelbach(
    cm: cpm.ClassModel,
    start: RescheduleState,
    deadline: float,
    args: CpsatArgs,
) -> Optimum:
    frag, free = start.frag_sum, start.free_sum
    values: dict[cpm.Key, int] | None = cpm.final_counts(cm, start)
    cpm.hint(cm, start)
    for _ in range(MAX_DINKELBACH_ROUNDS):
        if free <= 0 or time.monotonic() >= deadline:
            break
        cpm.set_ratio_objective(cm, free, frag)
        ans = solve_model(cm, deadline - time.monotonic(), args)
        if ans.values is None or ans.objective is None:
            break
        offset = free * cm.frag_fixed - frag * cm.free_fixed
        if ans.status is Status.OPTIMAL and ans.objective + offset >= 0:
            return Optimum(values, True, frag / free)
        assert ans.frag is not None and ans.free is not None
        if ans.free > 0 and ans.frag * free < frag * ans.free:
            values, frag, free = ans.values, ans.frag, ans.free
        elif ans.status is not Status.OPTIMAL:
            break
    return Optimum(values, False, None)


def exact_plan(
    problem: VmRescheduling, budget: Budget, args: CpsatArgs, solver: str
) -> SolveResult:
    started = time.monotonic()
    state = RescheduleState.from_problem(problem)
    fr0 = state.fragment_rate()
    hinted = state.copy()
    if args.hint_with_greedy:
        greedy(hinted, problem.migration_limit, started + budget.seconds * HINT_SHARE)
    classes = vm_classes(state, np.arange(state.n_vms))
    cm = cpm.build(state, classes, np.arange(state.n_hosts), problem.migration_limit)
    opt = optimize(cm, hinted, budget.deadline - budget.seconds * SEQUENCING_SHARE, args)
    if opt.values is None:
        return state_result(
            hinted,
            solver=solver,
            status=Status.FEASIBLE,
            started=started,
            fr_before=fr0,
            message="no model answer in time; greedy plan",
        )
    moves = disaggregate(state, classes, cm.counts(opt.values))
    done = state.copy()
    seq = sequence(done, moves, problem.migration_limit)
    return _choose(done, hinted, seq, opt, solver, started, fr0)


def _choose(
    done: RescheduleState,
    hinted: RescheduleState,
    seq: Sequenced,
    opt: Optimum,
    solver: str,
    started: float,
    fr0: float,
) -> SolveResult:
    """The model's sequenced answer, or the greedy hint when that is better."""
    if seq.complete and done.fragment_rate() <= hinted.fragment_rate():
        status = Status.OPTIMAL if opt.proven else Status.FEASIBLE
        return state_result(
            done,
            solver=solver,
            status=status,
            started=started,
            fr_before=fr0,
            best_bound=opt.bound_fr,
            message=seq.message,
            parked=seq.parked,
        )
    better = done if done.fragment_rate() < hinted.fragment_rate() else hinted
    note = seq.message or "the model's answer is no better than the greedy hint"
    return state_result(
        better,
        solver=solver,
        status=Status.FEASIBLE,
        started=started,
        fr_before=fr0,
        best_bound=opt.bound_fr,
        message=note,
        unresolved_moves=len(seq.unresolved),
    )


@register(names.CPSAT_RESCHEDULE, {ProblemKind.VM_RESCHEDULING})
class CpsatRescheduler:
    """Exact CP-SAT over VM classes, hinted with greedy; proven bound and gap."""

    name = names.CPSAT_RESCHEDULE
    capabilities = Capabilities(
        kind=SolverKind.EXACT,
        problem_kinds=frozenset({ProblemKind.VM_RESCHEDULING}),
        anytime=True,
        warm_start=False,
        deterministic=False,
    )

    def __init__(self, args: CpsatArgs | None = None, **kw: object) -> None:
        self.args = args or CpsatArgs(**kw)  # type: ignore[arg-type]

    def solve(self, problem: VmRescheduling, budget: Budget) -> SolveResult:
        return exact_plan(problem, budget, self.args, self.name)
