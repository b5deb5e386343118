"""Small helpers shared by the CP-SAT models: solver parameters from a budget,
and the one mapping from CP-SAT statuses to :class:`~optsched.results.Status`.

Kept generic on purpose (no problem-specific code), so any CP-SAT model in
``optsched.solvers`` can use it.
"""

from __future__ import annotations

import os

from ortools.sat.python import cp_model

from optsched.results import Status

# Floor for a stage's time limit: CP-SAT needs a few milliseconds to load a
# model and run presolve; a smaller limit returns UNKNOWN before any search.
MIN_TIME_LIMIT_S = 0.01


def default_workers() -> int:
    """One CP-SAT worker per core of this machine (the CP-SAT primer's advice)."""
    return max(1, os.cpu_count() or 1)


def make_solver(
    time_limit_s: float, num_workers: int | None = None, random_seed: int | None = None
) -> cp_model.CpSolver:
    """A CpSolver limited to ``time_limit_s`` seconds."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(MIN_TIME_LIMIT_S, float(time_limit_s))
    solver.parameters.num_workers = num_workers or default_workers()
    if random_seed is not None:
        solver.parameters.random_seed = int(random_seed)
    return solver


def map_status(cp_status: int) -> Status:
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
