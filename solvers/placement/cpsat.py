"""The CP-SAT placement solver: hint, build, solve in stages, extract.

1. Run the baselines (kube-default, first-fit- and best-fit-decreasing) and
   keep the best answer by the lexicographic score; it hints the model and is
   the answer if CP-SAT finds nothing better in time (anytime: any budget
   returns the best answer found, never worse than the best baseline).
2. Aggregate items into classes, prune candidate nodes, find interchangeable
   nodes, build the model (:mod:`.model`).
3. Solve the stages of :mod:`.objective`: level 1 first with a share of the
   budget, then levels 2-4 with the rest; each stage is hinted with the
   incumbent and holds the levels before it at the values found.
4. Extract the assignment, order the plan, explain what stays unplaced.

Status: OPTIMAL when every stage was proven optimal on a losslessly pruned
model; FEASIBLE otherwise. ``objective`` is the folded level 1 over the
items left unplaced (:func:`.outcome.make_result`) and ``best_bound`` a
lower bound on it, from CP-SAT's bound when the model is lossless and the
pooled capacity bound of :mod:`.bounds` always. ``stats['level1_proven']`` says whether
no answer places more items per priority tier.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from optsched import names
from optsched.budget import Budget
from optsched.errors import ConfigError
from optsched.model import Assignment
from optsched.problems import PodPlacement
from optsched.registry import register
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers._cpsat import make_solver, map_status, set_maximize
from optsched.solvers.placement.bounds import pooled_placed_bound
from optsched.solvers.placement.candidates import arrival_masks, prune, symmetric_groups
from optsched.solvers.placement.classes import build_classes, fixed_usage
from optsched.solvers.placement.extract import add_hint, assignment_from_counts, counts_of
from optsched.solvers.placement.greedy import PLACEMENT_KINDS, greedy_assign
from optsched.solvers.placement.kube_default import kube_schedule_until
from optsched.solvers.placement.model import (
    PlacementModel,
    build_model,
    constrain,
    forbid_counts,
)
from optsched.solvers.placement.objective import Stage, disruption_stage, placement_stages
from optsched.solvers.placement.outcome import make_result, tier_counts
from optsched.solvers.placement.plan import order_plan, plan_violations
from optsched.solvers.placement.score import evaluate, tier_weights
from optsched.solvers.placement.state import ClusterState
from optsched.solvers.placement.topology import Topology, build_topology

DEFAULT_MAX_PAIRS = 60_000  # (class, node) pairs: builds in ~2 s at 1,000 nodes on one core
LEVEL1_SHARE = 0.6  # of the time left after building, for the level-1 stages
RESULT_RESERVE = 0.1  # of the budget, kept for plan ordering and reasons
RESULT_S_PER_ITEM = 1e-4  # per item, when that reserves more (5 s at 50,000 pods)
MIN_MODEL_S = 0.05  # the model is built only with at least this much time left
MAX_REPAIRS = 3  # re-solves per stage after cutting off an answer no plan reaches


class _OutOfTime(Exception):
    """The budget ran out while the model was being built."""


class _FirstSolution(cp_model.CpSolverSolutionCallback):
    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started
        self.first_s: float | None = None

    def on_solution_callback(self) -> None:
        if self.first_s is None:
            self.first_s = time.monotonic() - self.started


@dataclass
class _Run:
    """``best`` is the incumbent answer (None until one is known to be
    valid: the baselines are only when the snapshot itself is consistent);
    ``hint`` the assignment that hints the next stage."""

    topo: Topology
    started: float
    best: dict[str, Assignment] | None
    hint: dict[str, Assignment]
    source: str
    stats: dict[str, Any] = field(default_factory=dict)
    stages: list[dict[str, Any]] = field(default_factory=list)


@register(names.CPSAT_PLACEMENT, PLACEMENT_KINDS)
class CpsatPlacement:
    name = names.CPSAT_PLACEMENT
    capabilities = Capabilities(
        SolverKind.EXACT, PLACEMENT_KINDS, anytime=True, warm_start=True, deterministic=False
    )

    def __init__(
        self,
        num_workers: int | None = None,
        random_seed: int | None = None,
        max_pairs: int = DEFAULT_MAX_PAIRS,
        level1_share: float = LEVEL1_SHARE,
    ) -> None:
        if num_workers is not None and num_workers < 1:
            raise ConfigError(f"{self.name}: num_workers must be at least 1")
        if max_pairs < 1:
            raise ConfigError(f"{self.name}: max_pairs must be at least 1")
        if not 0 < level1_share <= 1:
            raise ConfigError(f"{self.name}: level1_share must be in (0, 1]")
        self.num_workers = num_workers
        self.random_seed = random_seed
        self.max_pairs = max_pairs
        self.level1_share = level1_share

    def solve(self, problem: PodPlacement, budget: Budget) -> SolveResult:
        return self._solve(problem, budget, None)

    def solve_from(self, problem: PodPlacement, budget: Budget, hint: SolveResult) -> SolveResult:
        final = hint.plan.final_assignments(problem.snapshot) if hint.plan is not None else None
        return self._solve(problem, budget, final)

    def _solve(
        self, problem: PodPlacement, budget: Budget, given: Mapping[str, Assignment] | None
    ) -> SolveResult:
        started = time.monotonic()
        topo = build_topology(problem)
        # kept for ordering the plan and explaining what stays pending
        reserve = max(budget.seconds * RESULT_RESERVE, RESULT_S_PER_ITEM * topo.cc.n_items)
        run = self._baselines(topo, started, given, budget.deadline - reserve)

        def check(phase: str) -> None:
            if budget.remaining() - reserve < MIN_MODEL_S:
                run.stats["model"] = f"not built: the budget ran out {phase}"
                raise _OutOfTime

        try:
            check("in the baselines")
            classes = build_classes(topo)
            masks = arrival_masks(topo, classes, fixed_usage(topo, classes))
            check("finding candidate nodes")
            cands, lossless = prune(topo, classes, masks, run.hint, self.max_pairs)
            groups = symmetric_groups(topo, classes, cands) if lossless else []
            check("pruning")
            pm = build_model(topo, classes, cands, groups)
            check("building the model")
        except _OutOfTime:
            return self._result(run, [], False)
        run.stats.update(
            classes=len(classes),
            count_variables=len(pm.y),
            lossless=lossless,
            symmetric_groups=len(groups),
            build_s=time.monotonic() - started - run.stats["baselines_s"],
        )
        proven = self._stages(pm, run, budget, reserve)
        return self._result(run, proven, lossless)

    def _baselines(
        self,
        topo: Topology,
        started: float,
        given: Mapping[str, Assignment] | None,
        deadline: float,
    ) -> _Run:
        """The greedy packers, then kube-default (the slowest: stopped at
        ``deadline``, its pods still queued then stay pending); of answers
        that score alike, kube-default's is kept (listed first)."""
        ffd = greedy_assign(topo, best_fit=False).assignments()
        bfd = greedy_assign(topo, best_fit=True).assignments()
        kube, complete = kube_schedule_until(topo, True, deadline)
        answers = {
            names.KUBE_DEFAULT: kube.assignments(),
            names.FIRST_FIT_DECREASING: ffd,
            names.BEST_FIT_DECREASING: bfd,
        }
        if given is not None:
            answers["hint"] = dict(given)
        source = max(answers, key=lambda k: evaluate(topo.problem, answers[k]).key())
        consistent = not ClusterState(topo).broken()
        best = answers[source] if consistent else None
        run = _Run(topo, started, best, answers[source], source if consistent else "")
        run.stats["baselines_s"] = time.monotonic() - started
        run.stats["kube_default_complete"] = complete
        return run

    def _stages(self, pm: PlacementModel, run: _Run, budget: Budget, reserve: float) -> list[bool]:
        stages = [*placement_stages(pm), disruption_stage(pm)]
        run.stats["level1_stages"] = len(stages) - 1
        proven: list[bool] = []
        for k, stage in enumerate(stages):
            left = budget.remaining() - reserve
            if left <= 0:
                break
            share = self.level1_share / (len(stages) - 1 - k) if k < len(stages) - 1 else 1.0
            status, value = self._solve_stage(pm, run, stage, left * min(1.0, share))
            proven.append(status is Status.OPTIMAL)
            if status is Status.INFEASIBLE:
                run.stats["infeasible"] = True
                break
            if value is None:
                break
            constrain(pm.model, stage.expr, lb=value)
        return proven

    def _solve_stage(
        self, pm: PlacementModel, run: _Run, stage: Stage, limit_s: float
    ) -> tuple[Status, int | None]:
        deadline = time.monotonic() + limit_s
        for repair in range(MAX_REPAIRS + 1):
            add_hint(pm, counts_of(pm, run.hint))
            set_maximize(pm.model, stage.expr.vars, stage.expr.coeffs)
            left = deadline - time.monotonic()
            solver = make_solver(left, self.num_workers, self.random_seed, keep_hint_feasible=True)
            callback = _FirstSolution(run.started)
            status = map_status(solver.solve(pm.model, callback))
            info: dict[str, Any] = {
                "stage": stage.name,
                "status": str(status),
                "wall_s": solver.wall_time,
            }
            run.stages.append(info)
            if callback.first_s is not None:
                run.stats.setdefault("first_solution_s", callback.first_s)
            if not status.has_solution:
                # after a cut, INFEASIBLE means no reachable answer is left
                # in the model; the incumbent stands, unproven
                return (status if repair == 0 else Status.FEASIBLE), None
            solution = solver.response_proto.solution
            counts = {key: int(solution[var]) for key, var in pm.y.items()}
            moved = [int(solution[v]) for v in pm.moved]
            final = assignment_from_counts(pm, counts, moved.__getitem__)
            broken = plan_violations(run.topo, order_plan(run.topo, final)[0])
            if not broken:
                break
            # no plan reaches this answer (a cycle of moves that only an
            # eviction or extra disruption could break): cut it off, solve again
            info["unreachable"] = broken[:3]
            run.stats["cuts"] = run.stats.get("cuts", 0) + 1
            forbid_counts(pm, counts)
            if repair == MAX_REPAIRS or time.monotonic() >= deadline:
                return Status.FEASIBLE, None
        if (
            run.best is None
            or evaluate(run.topo.problem, final).key() >= evaluate(run.topo.problem, run.best).key()
        ):
            run.best, run.source = final, names.CPSAT_PLACEMENT
            run.hint = final
        const = stage.expr.const
        info.update(
            objective=solver.objective_value + const, bound=solver.best_objective_bound + const
        )
        if all(s["stage"] == stage.name for s in run.stages):  # the first stage
            run.stats["level1_bound"] = solver.best_objective_bound + const
        return status, int(round(solver.objective_value)) + const

    def _result(self, run: _Run, proven: list[bool], lossless: bool) -> SolveResult:
        topo = run.topo
        wall = time.monotonic() - run.started
        if run.stats.get("infeasible"):
            msg = "the items that may not change (protected, unmovable and not evictable) already break a constraint"
            return SolveResult(
                Status.INFEASIBLE, self.name, wall_time_s=wall, message=msg, stats=run.stats
            )
        if run.best is None:
            msg = (
                "no valid answer in time: the snapshot breaks a rule and CP-SAT found no repair yet"
            )
            return SolveResult(
                Status.NO_SOLUTION_IN_TIME,
                self.name,
                wall_time_s=wall,
                message=msg,
                stats=run.stats,
            )
        primary = evaluate(topo.problem, run.best).primary(tier_weights(tier_counts(topo)))
        n1 = run.stats.get("level1_stages", 0)
        bound = pooled_placed_bound(topo)[1]
        if lossless and len(proven) >= n1 and all(proven[:n1]):
            bound = min(bound, primary)
        elif lossless and n1 == 1 and "level1_bound" in run.stats:
            bound = min(bound, int(run.stats["level1_bound"] + 1e-6))
        level1_proven = bound <= primary
        all_proven = lossless and level1_proven and len(proven) == n1 + 1 and all(proven)
        status = Status.OPTIMAL if all_proven else Status.FEASIBLE
        notes = []
        if run.source != names.CPSAT_PLACEMENT:
            notes.append(
                f"the model was {run.stats['model']}; the answer is {run.source}'s"
                if "model" in run.stats
                else f"CP-SAT found nothing better than {run.source} in time"
            )
        if not run.stats.get("kube_default_complete", True):
            notes.append("kube-default stopped at the deadline with pods still queued")
        message = "; ".join(notes)
        stats = {
            **run.stats,
            "stages": run.stages,
            "level1_proven": level1_proven,
            "source": run.source,
        }
        return make_result(
            topo,
            run.best,
            solver=self.name,
            status=status,
            wall_time_s=wall,
            placed_bound=max(bound, primary),
            message=message,
            stats=stats,
        )
