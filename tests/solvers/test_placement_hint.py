"""The CP-SAT placement model's hint is complete (every variable, the packing
terms included) and feasible, so that CP-SAT starts from it at once: with a
variable left out it had to complete the hint by search, and at 32 nodes
found nothing in a 1 s budget."""

from __future__ import annotations

import pytest
from ortools.sat.python import cp_model

from optsched.bench.placement_scenarios import priority_matters
from optsched.problems import PodPlacement
from optsched.solvers.placement.candidates import arrival_masks, prune, symmetric_groups
from optsched.solvers.placement.classes import build_classes, fixed_usage
from optsched.solvers.placement.extract import add_hint, counts_of
from optsched.solvers.placement.kube_default import kube_schedule
from optsched.solvers.placement.model import build_model
from optsched.solvers.placement.objective import disruption_stage, placement_stages
from optsched.solvers.placement.topology import build_topology


@pytest.mark.parametrize("packing", ["most_allocated", "least_allocated"])
def test_the_hint_covers_every_variable_and_is_feasible(packing: str) -> None:
    start = PodPlacement(priority_matters(0, 8, 4, 2, 1.05))
    topo = build_topology(start)
    problem = PodPlacement(
        start.snapshot.with_assignments(kube_schedule(topo).assignments()), packing=packing
    )
    topo = build_topology(problem)
    hint = kube_schedule(topo).assignments()
    classes = build_classes(topo)
    masks = arrival_masks(topo, classes, fixed_usage(topo, classes))
    cands, lossless = prune(topo, classes, masks, hint, 60_000)
    pm = build_model(
        topo, classes, cands, symmetric_groups(topo, classes, cands) if lossless else []
    )
    stages = [*placement_stages(pm), disruption_stage(pm)]  # adds the packing terms
    add_hint(pm, counts_of(pm, hint))
    proto = pm.model.proto
    assert sorted(proto.solution_hint.vars) == list(range(len(proto.variables)))
    solver = cp_model.CpSolver()
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 30
    assert solver.solve(pm.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    assert stages
