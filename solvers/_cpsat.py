"""Small helpers shared by the CP-SAT models: solver parameters from a budget,
and the one mapping from CP-SAT statuses to :class:`~optsched.results.Status`.

Kept generic on purpose (no problem-specific code), so any CP-SAT model in
``optsched.solvers`` can use it.
"""

from __future__ import annotations

import os
from typing import Any

from ortools.sat.python import cp_model

from optsched.results import Status

# Floor for a stage's time limit: CP-SAT needs a few milliseconds to load a
# model and run presolve; a smaller limit returns UNKNOWN before any search.
MIN_TIME_LIMIT_S = 0.01


def default_workers() -> int:
    """One CP-SAT worker per core of this machine (the CP-SAT primer's advice)."""
    return max(1, os.cpu_count() or 1)


def make_solver(
    time_limit_s: float,
    num_workers: int | None = None,
    random_seed: int | None = None,
    keep_hint_feasible: bool = False,
) -> cp_model.CpSolver:
    """A CpSolver limited to ``time_limit_s`` seconds.

    ``keep_hint_feasible``: presolve's dominance and symmetry reductions may
    cut off a complete, feasible hint (CP-SAT then logs "hint is infeasible"
    and tries to repair it, often in vain); keeping every feasible solution
    in presolve preserves the hint as a first solution, which is what makes
    a hinted model anytime."""
    solver = cp_model.CpSolver()
    solver.parameters.keep_all_feasible_solutions_in_presolve = keep_hint_feasible
    solver.parameters.max_time_in_seconds = max(MIN_TIME_LIMIT_S, float(time_limit_s))
    solver.parameters.num_workers = num_workers or default_workers()
    if random_seed is not None:
        solver.parameters.random_seed = int(random_seed)
    return solver


def map_status(cp_status: Any) -> Status:  # ortools annotates solve() with the enum wrapper
    """CP-SAT status -> optsched Status. ``UNKNOWN`` means the limit was hit
    before any solution; ``MODEL_INVALID`` is a bug in the model, reported as
    invalid input so that it is never mistaken for infeasibility."""
    if cp_status == cp_model.OPTIMAL:
        return Status.OPTIMAL
    if cp_status == cp_model.FEASIBLE:
        return Status.FEASIBLE
    if cp_status == cp_model.INFEASIBLE:
        return Status.INFEASIBLE
    if cp_status == cp_model.MODEL_INVALID:
        return Status.INVALID_INPUT
    return Status.NO_SOLUTION_IN_TIME


# -- building models on the proto directly ------------------------------------
# The Python expression layer of cp_model costs ~50 us per variable and
# ~1 ms per long linear constraint; a model of 10^5 variables then takes
# seconds to build. Writing the CpModelProto fields directly is ~50x faster.
# Variables are their proto indices; a literal's negation is ``-index - 1``.

INT_MAX = 2**62


def new_var(model: cp_model.CpModel, lb: int, ub: int) -> int:
    index = len(model.proto.variables)
    model.proto.variables.add().domain.extend([int(lb), int(ub)])
    return index


def negated(literal: int) -> int:
    return -literal - 1


def add_linear(
    model: cp_model.CpModel,
    variables: list[int],
    coeffs: list[int],
    lb: int = -INT_MAX,
    ub: int = INT_MAX,
    enforce: tuple[int, ...] = (),
) -> None:
    """``lb <= sum(coeffs * variables) <= ub``, only if every ``enforce``
    literal is true."""
    ct = model.proto.constraints.add()
    ct.enforcement_literal.extend(enforce)
    ct.linear.vars.extend(variables)
    ct.linear.coeffs.extend(int(c) for c in coeffs)
    ct.linear.domain.extend([int(lb), int(ub)])


def set_maximize(model: cp_model.CpModel, variables: list[int], coeffs: list[int]) -> None:
    """Maximize ``sum(coeffs * variables)``; CP-SAT minimizes, so the proto
    holds the negation with a scaling factor of -1 (reported values and
    bounds are then in the maximized sense)."""
    obj = model.proto.objective
    obj.Clear()
    obj.vars.extend(variables)
    obj.coeffs.extend(-int(c) for c in coeffs)
    obj.scaling_factor = -1.0


def set_hint(model: cp_model.CpModel, variables: list[int], values: list[int]) -> None:
    hint = model.proto.solution_hint
    hint.Clear()
    hint.vars.extend(variables)
    hint.values.extend(int(v) for v in values)
