"""Greedy MIG placement: first fit by profile size (the baseline).

Requests go in order of priority (highest first), then profile size
(largest first, by memory slices on the largest GPU model that can serve the
request), then input order. Each goes to the first GPU, in input order,
that either has an idle instance of the request's profile (reused) or room
for a new one at the lowest allowed start slice. Nothing is ever destroyed.

A cursor per (GPU model, profile) skips the GPUs already known not to fit:
a GPU only fills up, so one that cannot take a profile never can again and
the pass costs O(requests + GPUs x profiles) fit tests.
"""

from __future__ import annotations

import time

from optsched import names
from optsched.budget import Budget
from optsched.model.mig import MigProfile, load_catalog
from optsched.problems.base import ProblemKind
from optsched.problems.gpu import GpuPartitionPlacement, MigRequest, MigSolution
from optsched.registry import register
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers._mig_common import (
    LayoutState,
    Placement,
    build_plan,
    lex_objective,
    unplaced_reasons,
)


def _size(r: MigRequest, models: list[str]) -> int:
    catalog = load_catalog()
    sizes = [p.memory_slices for m in models if (p := r.resolve(catalog[m])) is not None]
    return max(sizes, default=0)


def greedy_solution(problem: GpuPartitionPlacement) -> MigSolution:
    catalog = load_catalog()
    gpus = problem.gpus
    states = [
        LayoutState.of(catalog[g.model], [(i.profile, i.start_slice) for i in g.instances])
        for g in gpus
    ]
    idle: list[dict[str, list[str]]] = [{} for _ in gpus]
    for k, g in enumerate(gpus):
        for inst in g.instances:
            if not inst.busy:
                idle[k].setdefault(inst.profile, []).append(inst.instance_id)
    by_model: dict[str, list[int]] = {}
    for k, g in enumerate(gpus):
        by_model.setdefault(g.model, []).append(k)
    models = sorted(by_model)
    cursor: dict[tuple[str, str], int] = {}
    created: list[list[Placement]] = [[] for _ in gpus]
    assigned: list[dict[str, str | Placement]] = [{} for _ in gpus]

    def fits(k: int, p: MigProfile) -> bool:
        return bool(idle[k].get(p.name)) or states[k].first_start(p) is not None

    order = sorted(
        range(len(problem.requests)),
        key=lambda j: (-problem.requests[j].priority, -_size(problem.requests[j], models), j),
    )
    for j in order:
        r = problem.requests[j]
        best: tuple[int, MigProfile] | None = None
        for m in models:
            p = r.resolve(catalog[m])
            if p is None:
                continue
            pos, ks = cursor.get((m, p.name), 0), by_model[m]
            while pos < len(ks) and not fits(ks[pos], p):
                pos += 1
            cursor[(m, p.name)] = pos
            if pos < len(ks) and (best is None or ks[pos] < best[0]):
                best = (ks[pos], p)
        if best is None:
            continue
        k, p = best
        if idle[k].get(p.name):
            assigned[k][r.request_id] = idle[k][p.name].pop(0)
        else:
            start = states[k].first_start(p)
            assert start is not None
            states[k].add(p, start)
            created[k].append((p.name, start))
            assigned[k][r.request_id] = (p.name, start)
    plans = tuple(
        build_plan(g, catalog[g.model], (), created[k], assigned[k])
        for k, g in enumerate(gpus)
        if assigned[k] or created[k]
    )
    return MigSolution(plans)


@register(names.GREEDY_MIG, {ProblemKind.GPU_PARTITION_PLACEMENT})
class GreedyMig:
    name = names.GREEDY_MIG
    capabilities = Capabilities(
        SolverKind.HEURISTIC, frozenset({ProblemKind.GPU_PARTITION_PLACEMENT})
    )

    def solve(self, problem: GpuPartitionPlacement, budget: Budget) -> SolveResult:
        del budget  # a single pass; it does not look at the clock
        t0 = time.perf_counter()
        sol = greedy_solution(problem)
        placed = sol.assignments()
        return SolveResult(
            Status.FEASIBLE,
            solver=self.name,
            solution=sol,
            objective=float(len(placed)),
            wall_time_s=time.perf_counter() - t0,
            unplaced=unplaced_reasons(problem, placed),
            stats={"lex_objective": lex_objective(problem, sol)},
        )
