"""Exact rescheduling with CP-SAT: starting plan -> class model -> solve ->
disaggregate -> sequence (:mod:`.cpsat_model`, :mod:`.classes`,
:mod:`.sequencing`).

When the fragment rate's denominator is the same for every plan (see
:mod:`.cpsat_model`), one solve minimizing the sum of remainders is exact.
Otherwise Dinkelbach's method solves the fractional program: with ``R_k/T_k``
the best ratio so far, minimize ``T_k * R - R_k * T``; a negative optimum is a
better plan, a zero optimum proves ``R_k/T_k`` optimal.

Bound and plan: :func:`.bound.remainder_bound` (the largest of the
configuration, wrap and LP bounds; 0.1-0.3 s on medium, 0.3-0.5 s on large)
gives a valid lower bound on the fragment rate; it is the reported
``best_bound`` (with CP-SAT's own when larger), and a plan that meets it is
OPTIMAL. The integer master over the bound's configurations gives a plan
too (:mod:`.config_plan`). When the bound's estimated time
(:func:`.bound.estimated_bound_s`) fits ``BOUND_FIRST_SHARE`` of the budget,
it runs first, and a configuration plan that meets it is returned at once,
proven (on the medium instances measured, in 0.4-0.9 s at a 1 s budget); otherwise the
local search runs first and the bound after, stopping as soon as it proves
the local search's plan. Either way the model is built only when no
candidate meets the bound, and CP-SAT stops at the first solution that does
(:class:`_StopAt`). As a cut in the model
(:func:`.cpsat_model.add_remainder_bound`, ``CpsatArgs.bound_cut``) the bound
made the search worse and is off by default.

Anytime rule: the starting plan is the best of the local search
(:mod:`.start`: greedy single moves, then pair moves, within
``START_SHARE`` of the budget; it stops by itself when no single or pair
move improves, in 0.1-1.1 s on the shipped medium snapshot and 0.3-3.5 s on
large), the warm start and the configuration plan, and it is kept as the
incumbent. The model is built and solved only when the time left can hold
its estimated build time (:func:`estimated_build_s`) plus a minimal solve;
otherwise, or if the model's answer cannot be sequenced within the migration
limit or is worse, the starting plan is returned. So the answer is never
worse than greedy run to completion whenever greedy completes within that
share.

Proofs: CP-SAT's full-problem worker is "max_lp" (:class:`CpsatArgs`), and a
plan is OPTIMAL when CP-SAT proves it, or when it meets a valid lower bound:
:mod:`.bound`'s or CP-SAT's own objective bound at the deadline. Before the
configuration bound, CP-SAT's own proofs took 9-30 s or more on medium at
MNL 25 and 50, varying with its random seed by a factor of 3 on the same
instance.

Warm start (``solve_from``; the portfolio passes the learned policy's plan
this way): the incumbent and hint are the better of the starting plan and
the given one, extended by the same local search (:mod:`.start`). A good incumbent matters most for the proof: the
search prunes against it from the first second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np
from ortools.sat.python import cp_model

from optsched import names
from optsched.budget import Budget
from optsched.errors import ConfigError
from optsched.problems.base import ProblemKind
from optsched.problems.cluster import VmRescheduling
from optsched.registry import register
from optsched.results import Plan, SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers._cpsat import default_workers, make_solver, map_status
from optsched.solvers.reschedule import cpsat_model as cpm
from optsched.solvers.reschedule.bound import RemainderBound, estimated_bound_s, remainder_bound
from optsched.solvers.reschedule.classes import VmClass, disaggregate, vm_classes
from optsched.solvers.reschedule.result import state_result
from optsched.solvers.reschedule.scope import unmodelled
from optsched.solvers.reschedule.sequencing import Sequenced, sequence
from optsched.solvers.reschedule.start import better, configuration_state, starting_state
from optsched.solvers.reschedule.state import RescheduleState

START_SHARE = 0.8  # of the budget at most, for the starting plan (it stops by itself)
SEQUENCING_SHARE = 0.1  # of the budget, kept for disaggregation and sequencing
# The bound runs before the local search when its estimated time is at most
# this share of the budget (medium from about 0.62 s, large from about 1.34 s)
BOUND_FIRST_SHARE = 0.5
MIN_SOLVE_S = 0.05
# Model build cost per candidate count variable (class, host, placement in the
# class's cluster), measured on the shipped snapshots on the loaded 2-core
# machine: medium ~4.2k candidates 2.65 s, large ~18k candidates 7.4 s; plus
# CP-SAT's load and minimal presolve.
BUILD_S_PER_CANDIDATE = 4e-4
MIN_MODEL_S = 0.3
MAX_DINKELBACH_ROUNDS = 50
# A plan whose rate is within this of a valid lower bound meets it: rates of
# different plans differ by at least 1 / T (T = free cores, far below 1e9).
BOUND_TOL = 1e-9


@dataclass(frozen=True)
class CpsatArgs:
    """``num_workers`` defaults to the machine's cores; tests use one worker
    and a fixed seed for determinism."""

    num_workers: int = field(default_factory=default_workers)
    random_seed: int = 0
    hint_with_search: bool = True
    # CP-SAT's probing took ~3 of the first 5 s on the medium snapshot (18
    # classes, ~4k count variables) and found nothing the search did not; with
    # level 0 the hinted solution is loaded at 0.6 s instead of 4.9 s.
    probing_level: int = 0
    # the lower bound of :mod:`.bound` (reported, proofs) and its cut in the
    # model; the cut is off: medium, MNL 25 and 50, 5 s, the shipped and
    # seed-0 instances, it made 3 of 4 answers worse (mean FR 0.604 -> 0.627
    # at MNL 25, 0.604 -> 0.610 at 50; the bound alone left them unchanged)
    bound: bool = True
    bound_cut: bool = False
    # With 2 workers CP-SAT runs one full-problem worker (the other interleaves
    # its LNS workers). Its default, "default_lp", proved the medium optimum
    # at MNL 10 in 12-18 s (30 s budget) and at MNL 25 in 44-105 s or not in
    # 120 s; "max_lp" (linearization level 2: the capacity and slot rows
    # with all their cuts in the LP) proved MNL 10 in 4-5 s and MNL 25 in
    # 10-17 s on the same instances (generated seeds 0-3 and the shipped
    # snapshot). With one worker, the same linearization level is set.
    full_subsolver: str | None = "max_lp"

    def __post_init__(self) -> None:
        if self.num_workers < 1:
            raise ConfigError(f"num_workers must be at least 1, got {self.num_workers}")


@dataclass(frozen=True)
class ModelAnswer:
    status: Status
    values: dict[cpm.Key, int] | None
    frag: int | None  # R of the answer
    free: int | None  # T of the answer
    bound: float | None  # lower bound on the objective as set
    objective: float | None


def configure(solver: cp_model.CpSolver, args: CpsatArgs) -> None:
    """Probing level and the full-problem worker (see :class:`CpsatArgs`)."""
    solver.parameters.cp_model_probing_level = args.probing_level
    if args.full_subsolver == "max_lp" and args.num_workers == 1:
        solver.parameters.linearization_level = 2
    elif args.full_subsolver is not None:
        solver.parameters.subsolvers.append(args.full_subsolver)  # empty by default


class _StopAt(cp_model.CpSolverSolutionCallback):
    """Stops the search at the first solution whose objective reaches
    ``target`` (a valid bound: nothing better exists)."""

    def __init__(self, target: float) -> None:
        super().__init__()
        self.target = target

    def on_solution_callback(self) -> None:
        if self.objective_value >= self.target:
            self.stop_search()


def solve_model(
    cm: cpm.ClassModel, seconds: float, args: CpsatArgs, stop_at: float | None = None
) -> ModelAnswer:
    """Solve ``cm``; with ``stop_at`` (a maximized objective's bound known
    from outside the model) the search stops once a solution reaches it."""
    solver = make_solver(max(MIN_SOLVE_S, seconds), args.num_workers, args.random_seed)
    configure(solver, args)
    code = solver.solve(cm.model, None if stop_at is None else _StopAt(stop_at))
    status = map_status(cast(int, code))
    if not status.has_solution:
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
    cm: cpm.ClassModel,
    start: RescheduleState,
    deadline: float,
    args: CpsatArgs,
    lb: RemainderBound | None = None,
) -> Optimum:
    """Minimize the fragment rate over ``cm`` (hinted with ``start``'s counts).
    ``lb``, a valid lower bound on ``R`` (:mod:`.bound`), stops the search at
    the first solution that meets it (and is added as a cut with
    ``args.bound_cut``)."""
    if lb is not None and args.bound_cut:
        cpm.add_remainder_bound(cm, lb.frag, lb.conserved)
    if cm.constant_free:
        t_scope = cpm.set_slot_objective(cm)
        cpm.hint(cm, start)
        f = start.problem.fragment_cores
        stop_at = None
        if lb is not None and lb.conserved:  # R = R_fixed + T_scope - F * Q >= lb.frag
            stop_at = (cm.frag_fixed + t_scope - lb.frag) // f
        ans = solve_model(cm, deadline - time.monotonic(), args, stop_at)
        at_bound = stop_at is not None and ans.objective is not None and ans.objective >= stop_at
        proven = ans.status is Status.OPTIMAL or at_bound
        total = start.free_sum
        if total <= 0:
            return Optimum(ans.values, proven, 0.0)
        bound = None
        if ans.bound is not None:  # most slots -> least remainder
            bound = max(0.0, cm.frag_fixed + t_scope - f * int(ans.bound + 1e-6)) / total
        return Optimum(ans.values, proven, bound)
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
        if free <= 0 or frag <= 0:  # a rate of 0 is the least there is
            return Optimum(values, True, 0.0)
        if time.monotonic() >= deadline:
            break
        cpm.set_ratio_objective(cm, free, frag)
        ans = solve_model(cm, deadline - time.monotonic(), args)
        if ans.values is None or ans.objective is None:
            break
        offset = free * cm.frag_fixed - frag * cm.free_fixed
        assert ans.frag is not None and ans.free is not None
        if ans.free <= 0:  # every counted unit full: a rate of 0
            return Optimum(ans.values, True, 0.0)
        if ans.status is Status.OPTIMAL and ans.objective + offset >= 0:
            return _or_full(cm, Optimum(values, True, frag / free), deadline, args)
        if ans.frag * free < frag * ans.free:
            values, frag, free = ans.values, ans.frag, ans.free
        elif ans.status is not Status.OPTIMAL:
            break
    return Optimum(values, False, None)


def _or_full(cm: cpm.ClassModel, best: Optimum, deadline: float, args: CpsatArgs) -> Optimum:
    """Dinkelbach's zero optimum proves ``best`` among plans that leave free
    CPU; a plan that fills every counted unit (``T = 0``, rate 0 by
    definition) scores 0 in the parametric objective too and so goes unseen.
    It can exist only when ``T`` varies (VMs starting on uncounted hosts, or
    the memory-aware variant); one feasibility solve with ``T = 0`` settles
    it. Unsettled in time, ``best`` stands unproven."""
    full = replace(cm, model=cm.model.clone())
    full.model.add(cp_model.LinearExpr.sum(list(full.eff)) == -full.free_fixed)
    ans = solve_model(full, deadline - time.monotonic(), args)
    if ans.values is not None:
        return Optimum(ans.values, True, 0.0)
    if ans.status is Status.INFEASIBLE:
        return best
    return Optimum(best.values, False, None)


def estimated_build_s(state: RescheduleState, classes: list[VmClass], hosts: np.ndarray) -> float:
    """A conservative estimate of the time to build the class model over
    ``hosts`` and get a first answer from CP-SAT (see ``BUILD_S_PER_CANDIDATE``)."""
    in_cluster = np.bincount(state.host_cluster[hosts], minlength=int(state.host_cluster.max()) + 1)
    per_width = {w: sum(len(p) == w for p in state.placements) for w in (1, 2)}
    cands = sum(int(in_cluster[c.cluster]) * per_width[c.width] for c in classes)
    return MIN_MODEL_S + BUILD_S_PER_CANDIDATE * cands


def exact_plan(
    problem: VmRescheduling,
    budget: Budget,
    args: CpsatArgs,
    solver: str,
    warm: Plan | None = None,
) -> SolveResult:
    started = time.monotonic()
    if (why := unmodelled(problem)) is not None:
        return SolveResult(Status.INVALID_INPUT, solver, message=why)
    state = RescheduleState.from_problem(problem)
    fr0 = state.fragment_rate()
    mnl = problem.migration_limit
    model_deadline = budget.deadline - budget.seconds * SEQUENCING_SHARE
    search_until = started + budget.seconds * START_SHARE if args.hint_with_search else None
    # With time for it, the bound first: where the plan of its configurations
    # meets it, that plan is the answer, proven, with no search at all.
    # Otherwise the local search first, and the bound with what is left.
    first = args.bound and estimated_bound_s(state) <= budget.seconds * BOUND_FIRST_SHARE
    lb = remainder_bound(state, mnl, model_deadline) if first else None
    planned = configuration_state(state, lb, mnl, model_deadline)
    if lb is not None and planned is not None and lb.proves(planned.frag_sum, planned.free_sum):
        return _start_result(
            planned,
            Status.OPTIMAL,
            lb,
            solver,
            started,
            fr0,
            "the configuration plan meets the bound",
        )
    hinted, source = starting_state(state, mnl, search_until, warm)
    if args.bound and not first:
        lb = remainder_bound(state, mnl, model_deadline, target_frag=hinted.frag_sum)
    if lb is not None and not lb.proves(hinted.frag_sum, hinted.free_sum):
        # the integer master again, with the start's host configurations among
        # its columns: it combines their parts with the priced ones
        merged = configuration_state(state, lb, mnl, model_deadline, also=(hinted,))
        hinted, source = better((hinted, source), planned, "configuration")
        hinted, source = better((hinted, source), merged, "configuration")
    classes = vm_classes(state, np.arange(state.n_vms))
    if lb is not None and lb.proves(hinted.frag_sum, hinted.free_sum):
        return _start_result(
            hinted, Status.OPTIMAL, lb, solver, started, fr0, f"the {source} plan meets the bound"
        )
    left = model_deadline - time.monotonic()
    if left < estimated_build_s(state, classes, np.arange(state.n_hosts)):
        return _start_result(
            hinted,
            Status.FEASIBLE,
            lb,
            solver,
            started,
            fr0,
            f"no time left for the model; the {source} plan",
        )
    cm = cpm.build(state, classes, np.arange(state.n_hosts), problem.migration_limit)
    opt = optimize(cm, hinted, model_deadline, args, lb)
    if opt.values is None:
        return _start_result(
            hinted,
            Status.FEASIBLE,
            lb,
            solver,
            started,
            fr0,
            f"no model answer in time; the {source} plan",
        )
    values = opt.values
    if lb is not None:
        opt = Optimum(values, opt.proven, max(opt.bound_fr or 0.0, lb.rate))
    moves = disaggregate(state, classes, cm.counts(values))
    done = state.copy()
    seq = sequence(done, moves, problem.migration_limit)
    return _choose(done, hinted, seq, opt, solver, started, fr0, lb)


def _start_result(
    hinted: RescheduleState,
    status: Status,
    lb: RemainderBound | None,
    solver: str,
    started: float,
    fr0: float,
    message: str,
) -> SolveResult:
    return state_result(
        hinted,
        solver=solver,
        status=status,
        started=started,
        fr_before=fr0,
        best_bound=None if lb is None else lb.rate,
        message=message,
        **bound_stats(lb),
    )


def bound_stats(lb: RemainderBound | None) -> dict[str, object]:
    """The bound's figures for a result's stats (the exact solver and LNS)."""
    if lb is None:
        return {}
    return {
        "bound_frag": lb.frag,
        "bound_lp": lb.lp,
        "bound_wrap": lb.wrap,
        "bound_config": lb.config,
        "bound_s": lb.seconds,
    }


def _meets(state: RescheduleState, opt: Optimum, lb: RemainderBound | None) -> bool:
    """Whether ``state`` meets a valid lower bound: :mod:`.bound`'s, or the
    model's own (CP-SAT may stop at the deadline with its objective bound
    already at the incumbent's value, because the bound is fractional: the
    slot count is integral, so the incumbent is optimal all the same)."""
    if lb is not None and lb.proves(state.frag_sum, state.free_sum):
        return True
    return opt.bound_fr is not None and state.fragment_rate() <= opt.bound_fr + BOUND_TOL


def _choose(
    done: RescheduleState,
    hinted: RescheduleState,
    seq: Sequenced,
    opt: Optimum,
    solver: str,
    started: float,
    fr0: float,
    lb: RemainderBound | None = None,
) -> SolveResult:
    """The model's sequenced answer, or the starting plan (``hinted``) when
    that is better; optimal when CP-SAT proved it or it meets a valid bound."""
    if seq.complete and done.fragment_rate() <= hinted.fragment_rate():
        proven = opt.proven or _meets(done, opt, lb)
        status = Status.OPTIMAL if proven else Status.FEASIBLE
        return state_result(
            done,
            solver=solver,
            status=status,
            started=started,
            fr_before=fr0,
            best_bound=opt.bound_fr,
            message=seq.message,
            parked=seq.parked,
            **bound_stats(lb),
        )
    better = done if done.fragment_rate() < hinted.fragment_rate() else hinted
    note = seq.message or "the model's answer is no better than its starting plan"
    proven = _meets(better, opt, lb)
    return state_result(
        better,
        solver=solver,
        status=Status.OPTIMAL if proven else Status.FEASIBLE,
        started=started,
        fr_before=fr0,
        best_bound=opt.bound_fr,
        message=note,
        unresolved_moves=len(seq.unresolved),
        **bound_stats(lb),
    )


@register(names.CPSAT_RESCHEDULE, {ProblemKind.VM_RESCHEDULING})
class CpsatRescheduler:
    """Exact CP-SAT over VM classes, hinted with a local search; proven bound and gap."""

    name = names.CPSAT_RESCHEDULE
    capabilities = Capabilities(
        kind=SolverKind.EXACT,
        problem_kinds=frozenset({ProblemKind.VM_RESCHEDULING}),
        anytime=True,
        warm_start=True,
        deterministic=False,
    )

    def __init__(self, args: CpsatArgs | None = None, **kw: object) -> None:
        self.args = args or CpsatArgs(**kw)  # type: ignore[arg-type]

    def solve(self, problem: VmRescheduling, budget: Budget) -> SolveResult:
        return exact_plan(problem, budget, self.args, self.name)

    def solve_from(self, problem: VmRescheduling, budget: Budget, hint: SolveResult) -> SolveResult:
        """Hinted with the better of the starting plan and ``hint``'s (extended)."""
        return exact_plan(problem, budget, self.args, self.name, hint.plan)
