"""Sensitivity-aware model placement with CP-SAT.

Formulation (the objective μ-Serve's heuristic aims at: a GPU's clock can
drop only as far as its most sensitive partition allows; Qiu 2024
dissertation, Sec. 6.3.2):

Sets      partitions P (of models M), GPUs G.
Variables x[p,g] in {0,1}   partition p on GPU g (only where it fits alone)
          z[m] in {0,1}     model m placed
          y[m,g] in {0,1}   model m has a partition on g
          top[g] in 0..S    highest sensitivity on g (integer, SENSITIVITY_SCALE units)
Constraints
  sum_g x[p,g] = z[m(p)]                    (a model is placed whole or not at all)
  sum_p mem[p] x[p,g] <= mem[g]             (memory; MiB, demand rounded up, capacity down)
  y[m,g] >= x[p,g];  sum_g y[m,g] <= CT     (at most CT devices per model)
  top[g] >= s[p] x[p,g]
Objective, lexicographic (two solves): max sum_m |P_m| z[m]; then
min sum_g top[g].

Warm-started from the corrected greedy (:mod:`.sensitivity_greedy`), and
its answer is returned instead whenever it is better on the true (float)
objective, so the result is never worse than the heuristic's.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import replace
from typing import Any

from optsched import names
from optsched.budget import Budget
from optsched.problems.base import ProblemKind
from optsched.problems.gpu import ModelPlacement
from optsched.registry import register
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers.sensitivity_greedy import MEMORY_EPS_GB, greedy_placement, result_for

SENSITIVITY_SCALE = 1000  # sensitivity resolution 1e-3 in the integer model
MIB_PER_GB = 1024


def _build(
    problem: ModelPlacement,
) -> tuple[Any, dict[tuple[str, str], Any], dict[str, Any], dict[str, Any]]:
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    sens = {p.partition_id: round(p.sensitivity * SENSITIVITY_SCALE) for p in problem.partitions}
    top_max = max(sens.values(), default=0)
    # variables
    x = {
        (p.partition_id, g.gpu_id): m.new_bool_var(f"x[{p.partition_id},{g.gpu_id}]")
        for p in problem.partitions
        for g in problem.gpus
        if p.memory_gb <= g.memory_gb + MEMORY_EPS_GB
    }
    z = {name: m.new_bool_var(f"z[{name}]") for name in problem.models()}
    top = {g.gpu_id: m.new_int_var(0, top_max, f"top[{g.gpu_id}]") for g in problem.gpus}
    # a model is placed whole or not at all
    for p in problem.partitions:
        m.add(sum(v for (pid, _), v in x.items() if pid == p.partition_id) == z[p.model])
    # memory
    for g in problem.gpus:
        cap = math.floor(g.memory_gb * MIB_PER_GB + 1e-6)
        m.add(
            sum(
                math.ceil(p.memory_gb * MIB_PER_GB - 1e-6) * x[p.partition_id, g.gpu_id]
                for p in problem.partitions
                if (p.partition_id, g.gpu_id) in x
            )
            <= cap
        )
    # at most CT devices per model
    for name, parts in problem.models().items():
        ys = []
        for g in problem.gpus:
            xs = [x[p.partition_id, g.gpu_id] for p in parts if (p.partition_id, g.gpu_id) in x]
            if xs:
                y = m.new_bool_var(f"y[{name},{g.gpu_id}]")
                for v in xs:
                    m.add_implication(v, y)
                ys.append(y)
        m.add(sum(ys) <= problem.max_devices_per_model)
    # highest sensitivity per GPU
    for (pid, gid), v in x.items():
        m.add(top[gid] >= sens[pid]).only_enforce_if(v)
    return m, x, z, top


@register(names.CPSAT_SENSITIVITY, {ProblemKind.MODEL_PLACEMENT})
class CpsatSensitivity:
    name = names.CPSAT_SENSITIVITY
    capabilities = Capabilities(
        SolverKind.EXACT, frozenset({ProblemKind.MODEL_PLACEMENT}), anytime=True, warm_start=True
    )

    def __init__(self, num_workers: int | None = None, random_seed: int = 0) -> None:
        self.num_workers = num_workers or os.cpu_count() or 1
        self.random_seed = random_seed

    def solve(self, problem: ModelPlacement, budget: Budget) -> SolveResult:
        from ortools.sat.python import cp_model

        t0 = time.perf_counter()
        hint, failed = greedy_placement(problem)
        greedy = result_for(problem, self.name, hint, failed, Status.FEASIBLE, t0)
        m, x, z, top = _build(problem)
        for (pid, gid), v in x.items():
            m.add_hint(v, int(hint.get(pid) == gid))
        sizes = {name: len(parts) for name, parts in problem.models().items()}
        levels = [(sum(sizes[n] * v for n, v in z.items()), True), (sum(top.values()), False)]
        proven, assignment = True, None
        for k, (expr, maximise) in enumerate(levels):
            solver = cp_model.CpSolver()
            solver.parameters.max_time_in_seconds = max(
                0.05, budget.remaining() / (len(levels) - k)
            )
            solver.parameters.num_workers = self.num_workers
            solver.parameters.random_seed = self.random_seed
            m.clear_objective()
            m.maximize(expr) if maximise else m.minimize(expr)
            st = solver.solve(m)
            if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                proven = False
                break
            proven &= st == cp_model.OPTIMAL
            v = int(round(solver.objective_value))
            m.add(expr >= v) if maximise else m.add(expr <= v)
            assignment = {pid: gid for (pid, gid), var in x.items() if solver.value(var)}
            m.clear_hints()
            for (pid, gid), var in x.items():
                m.add_hint(var, int(assignment.get(pid) == gid))
        if assignment is None:
            return replace(
                greedy,
                wall_time_s=time.perf_counter() - t0,
                message="CP-SAT found no solution in time; greedy answer",
            )
        reasons = {
            n: f"model {n} does not fit within CT={problem.max_devices_per_model} GPUs alongside higher-value placements"
            for n in z
        }
        mine = result_for(
            problem,
            self.name,
            assignment,
            reasons,
            Status.OPTIMAL if proven else Status.FEASIBLE,
            t0,
        )
        better = len(hint) < len(assignment) or (
            len(hint) == len(assignment)
            and (mine.objective or 0.0) <= (greedy.objective or 0.0) + 1e-9
        )
        if better:
            return mine
        return replace(
            greedy,
            wall_time_s=time.perf_counter() - t0,
            message="greedy answer better than CP-SAT's within the budget",
        )
