"""The exact rescheduler's CP-SAT configuration: the full-problem worker."""

import pytest
from ortools.sat.python import cp_model

from optsched.solvers.reschedule.exact import CpsatArgs, configure


@pytest.mark.parametrize(
    ("args", "subsolvers", "level"),
    [
        (CpsatArgs(num_workers=2), ["max_lp"], 1),
        (CpsatArgs(num_workers=1), [], 2),  # one worker: no portfolio, the same LP
        (CpsatArgs(num_workers=2, full_subsolver="default_lp"), ["default_lp"], 1),
        (CpsatArgs(num_workers=2, full_subsolver=None), [], 1),
    ],
)
def test_full_problem_worker(args: CpsatArgs, subsolvers: list[str], level: int) -> None:
    solver = cp_model.CpSolver()
    configure(solver, args)
    assert list(solver.parameters.subsolvers) == subsolvers
    assert solver.parameters.linearization_level == level
    assert solver.parameters.cp_model_probing_level == args.probing_level
