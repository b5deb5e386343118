"""MIG partition placement with CP-SAT, aggregated so it scales to 10^4 GPUs.

Formulation (configuration model, as Gilmore-Gomory's for bin packing):

Sets
  G_s   groups of interchangeable GPUs: same model and the same instances
        (profile, start slice, busy flag); ``N_s`` GPUs in group ``s``.
  O_s   candidate final states of a GPU of group ``s``: keep a subset K of
        its idle instances and either create nothing (only with K = all
        idle) or create a maximal completion of busy + K (enumerated from the
        catalog's placement rules). Each option ``o`` has a capacity
        ``cap[o,p]`` (instances of profile ``p`` free for requests: kept idle
        plus created), and costs used[o], reconf[o], destroyed[o]. A group
        without busy instances also has the option "untouched" (capacity 0,
        not used). Options dominated in every respect are dropped.
  C     request classes: requests with the same (profile or minimum,
        priority); ``res(c, m)`` is the profile class ``c`` gets on model ``m``.
Variables
  n[s,o] in 0..N_s   GPUs of group s in final state o
  a[c,m] in 0..|c|   requests of class c served by GPUs of model m
Constraints
  sum_o n[s,o] = N_s                                   (every GPU has one state)
  sum_m a[c,m] <= |c|                                  (class size)
  sum_{c: res(c,m)=p} a[c,m] <= sum_{s of model m, o} cap[o,p] n[s,o]
                                                       (instances per model and profile)
Objective, lexicographic, one CP-SAT solve per level, each level fixed at
its value (at least its value when not proven optimal) before the next:
  per priority, highest first: max sum_{c of that priority} sum_m a[c,m];
  min sum used[o] n[s,o]; min sum reconf[o] n[s,o]; min sum destroyed[o] n[s,o].

Busy instances are never in a destroy list because every option keeps them.
The model is exact for the problem's objective: two GPUs of one group are
interchangeable, and a request needs only some instance of its profile on a
GPU of some model. Requests and instances are matched afterwards, per (model,
profile), filling GPUs with busy instances first; unused created instances
are dropped and destroyed idle instances that still fit are kept, which can
only improve every level. The answer is compared with the greedy one and
the better (lexicographically) is returned, so it is never worse.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from optsched import names
from optsched.budget import Budget
from optsched.model.cluster import Gpu
from optsched.model.mig import load_catalog
from optsched.problems.base import ProblemKind
from optsched.problems.gpu import GpuPartitionPlacement
from optsched.registry import register
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers._mig_assign import assign_requests
from optsched.solvers._mig_common import (
    ClassKey,
    Placement,
    lex_objective,
    maximal_completions,
    request_classes,
    unplaced_reasons,
)
from optsched.solvers.mig_greedy import greedy_solution


@dataclass(frozen=True)
class Option:
    """A candidate final state for a GPU of a group (see module docstring).
    ``kept`` indexes the group's idle instances (signature order)."""

    kept: tuple[int, ...]
    created: tuple[Placement, ...]
    cap: tuple[tuple[str, int], ...]
    used: bool
    reconf: bool
    destroyed: int

    def capacity(self) -> dict[str, int]:
        return dict(self.cap)


@dataclass
class Group:
    model: str
    gpus: list[int]  # indices into problem.gpus
    options: list[Option]


def signature(g: Gpu) -> tuple[str, tuple[tuple[str, int, bool], ...]]:
    return (g.model, tuple(sorted((i.profile, i.start_slice, i.busy) for i in g.instances)))


def _dominates(a: Option, b: Option) -> bool:
    ca, cb = a.capacity(), b.capacity()
    return (
        all(ca.get(p, 0) >= v for p, v in cb.items())
        and a.used <= b.used
        and a.reconf <= b.reconf
        and a.destroyed <= b.destroyed
    )


def group_options(model: str, sig: tuple[tuple[str, int, bool], ...]) -> list[Option]:
    busy = [(p, s) for p, s, b in sig if b]
    idle = [(p, s) for p, s, b in sig if not b]
    has_busy = bool(busy)
    opts: list[Option] = []
    if not has_busy:
        opts.append(Option(tuple(range(len(idle))), (), (), False, False, 0))
    for bits in range(1 << len(idle)):
        kept = tuple(k for k in range(len(idle)) if bits >> k & 1)
        kept_pl = [idle[k] for k in kept]
        base = tuple(sorted(busy + kept_pl))
        destroyed = len(idle) - len(kept)
        if destroyed == 0 and idle:
            cap = Counter(p for p, _ in kept_pl)
            opts.append(Option(kept, (), tuple(sorted(cap.items())), True, False, 0))
        for comp in maximal_completions(model, base):
            if comp:
                cap = Counter(p for p, _ in kept_pl + list(comp))
                opts.append(
                    Option(kept, comp, tuple(sorted(cap.items())), True, has_busy, destroyed)
                )
    unique = list({(o.cap, o.used, o.reconf, o.destroyed): o for o in opts}.values())
    return [
        o
        for o in unique
        if not any(q is not o and _dominates(q, o) and not _dominates(o, q) for q in unique)
    ]


def build_groups(problem: GpuPartitionPlacement) -> list[Group]:
    groups: dict[tuple[str, tuple[tuple[str, int, bool], ...]], Group] = {}
    for k, g in enumerate(problem.gpus):
        sig = signature(g)
        if sig not in groups:
            groups[sig] = Group(g.model, [], group_options(*sig))
        groups[sig].gpus.append(k)
    return list(groups.values())


class _Model:
    """The CP-SAT model of the module docstring, built once, solved per level."""

    def __init__(
        self,
        problem: GpuPartitionPlacement,
        groups: list[Group],
        classes: dict[ClassKey, list[Any]],
    ) -> None:
        from ortools.sat.python import cp_model

        self.cp = cp_model
        self.m = cp_model.CpModel()
        catalog = load_catalog()
        self.groups, self.classes = groups, classes
        models = sorted({g.model for g in groups})
        # variables
        self.n = [
            [self.m.new_int_var(0, len(g.gpus), f"n{s}_{o}") for o in range(len(g.options))]
            for s, g in enumerate(groups)
        ]
        self.a: dict[tuple[ClassKey, str], Any] = {}
        self.res: dict[tuple[ClassKey, str], str] = {}
        for c, reqs in classes.items():
            for mdl in models:
                p = reqs[0].resolve(catalog[mdl])
                if p is not None:
                    self.a[c, mdl] = self.m.new_int_var(0, len(reqs), f"a{len(self.a)}")
                    self.res[c, mdl] = p.name
        # one final state per GPU
        for s, g in enumerate(groups):
            self.m.add(sum(self.n[s]) == len(g.gpus))
        # class sizes
        for c, reqs in classes.items():
            vs = [v for (cc, _), v in self.a.items() if cc == c]
            if vs:
                self.m.add(sum(vs) <= len(reqs))
        # instances per (model, profile)
        for mdl, prof in sorted(set((m_, p_) for (_, m_), p_ in self.res.items())):
            demand = [v for key, v in self.a.items() if key[1] == mdl and self.res[key] == prof]
            supply = [
                o.capacity().get(prof, 0) * self.n[s][j]
                for s, g in enumerate(groups)
                if g.model == mdl
                for j, o in enumerate(g.options)
            ]
            self.m.add(sum(demand) <= sum(supply))

    def levels(self) -> list[tuple[str, Any, bool]]:
        """(name, expression, maximise) per objective level, in order."""
        out: list[tuple[str, Any, bool]] = []
        for t in sorted({c[3] for c in self.classes}, reverse=True):
            out.append(
                (f"placed[priority={t}]", sum(v for (c, _), v in self.a.items() if c[3] == t), True)
            )

        def cost(attr: str) -> Any:
            return sum(
                int(getattr(o, attr)) * self.n[s][j]
                for s, g in enumerate(self.groups)
                for j, o in enumerate(g.options)
            )

        out += [
            ("gpus_used", cost("used"), False),
            ("reconfigured", cost("reconf"), False),
            ("destroyed", cost("destroyed"), False),
        ]
        return out

    def all_vars(self) -> list[Any]:
        return [v for row in self.n for v in row] + list(self.a.values())


@register(names.CPSAT_MIG, {ProblemKind.GPU_PARTITION_PLACEMENT})
class CpsatMig:
    name = names.CPSAT_MIG
    capabilities = Capabilities(
        SolverKind.EXACT, frozenset({ProblemKind.GPU_PARTITION_PLACEMENT}), anytime=True
    )

    def __init__(self, num_workers: int | None = None, random_seed: int = 0) -> None:
        self.num_workers = num_workers or os.cpu_count() or 1
        self.random_seed = random_seed

    def solve(self, problem: GpuPartitionPlacement, budget: Budget) -> SolveResult:
        t0 = time.perf_counter()
        greedy = greedy_solution(problem)
        groups = build_groups(problem)
        classes = request_classes(problem.requests)
        model = _Model(problem, groups, classes)
        found, proven, stats = self._solve_levels(model, budget)
        sol, status, msg = (
            greedy,
            Status.FEASIBLE,
            "CP-SAT found no solution in time; greedy answer",
        )
        if found is not None:
            mine = assign_requests(problem, groups, classes, model.res, *found)
            if lex_objective(problem, mine) >= lex_objective(problem, greedy):
                sol, msg = mine, ""
                status = Status.OPTIMAL if proven else Status.FEASIBLE
            else:
                msg = "greedy answer better than CP-SAT's within the budget"
        placed = sol.assignments()
        return SolveResult(
            status,
            solver=self.name,
            solution=sol,
            objective=float(len(placed)),
            best_bound=float(len(placed)) if status is Status.OPTIMAL else None,
            wall_time_s=time.perf_counter() - t0,
            unplaced=unplaced_reasons(problem, placed),
            message=msg,
            stats={
                **stats,
                "groups": len(groups),
                "options": sum(len(g.options) for g in groups),
                "classes": len(classes),
                "lex_objective": lex_objective(problem, sol),
            },
        )

    def _solve_levels(
        self, model: _Model, budget: Budget
    ) -> tuple[
        tuple[list[list[int]], dict[tuple[ClassKey, str], int]] | None, bool, dict[str, Any]
    ]:
        cp = model.cp
        levels = model.levels()
        proven, values = True, {}
        last: list[int] | None = None
        for k, (name, expr, maximise) in enumerate(levels):
            solver = cp.CpSolver()
            solver.parameters.max_time_in_seconds = max(
                0.05, budget.remaining() / (len(levels) - k)
            )
            solver.parameters.num_workers = self.num_workers
            solver.parameters.random_seed = self.random_seed
            model.m.clear_objective()
            model.m.maximize(expr) if maximise else model.m.minimize(expr)
            st = solver.solve(model.m)
            if st not in (cp.OPTIMAL, cp.FEASIBLE):
                if last is None:
                    return None, False, {"levels": values}
                break  # keep the previous level's answer
            proven &= st == cp.OPTIMAL
            v = int(round(solver.objective_value))
            values[name] = v
            model.m.add(expr >= v) if maximise else model.m.add(expr <= v)
            last = [solver.value(x) for x in model.all_vars()]
            model.m.clear_hints()
            for x, val in zip(model.all_vars(), last, strict=True):
                model.m.add_hint(x, val)
        assert last is not None
        flat = iter(last)
        counts = [[next(flat) for _ in g.options] for g in model.groups]
        a_vals = dict(zip(model.a, flat, strict=True))
        return (counts, a_vals), proven and len(values) == len(levels), {"levels": values}
