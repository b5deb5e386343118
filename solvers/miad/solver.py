"""The MIAD solver for :class:`~optsched.problems.frequency.FrequencyControl`:
replays the controller over each GPU's periods of latency samples."""

from __future__ import annotations

import time

from optsched import names
from optsched.budget import Budget
from optsched.problems.base import ProblemKind
from optsched.problems.frequency import FrequencyControl, FrequencySolution
from optsched.registry import register
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers.miad.controller import ControllerState, replay


@register(names.MIAD, {ProblemKind.FREQUENCY_CONTROL})
class Miad:
    name = names.MIAD
    capabilities = Capabilities(SolverKind.HEURISTIC, frozenset({ProblemKind.FREQUENCY_CONTROL}))

    def solve(self, problem: FrequencyControl, budget: Budget) -> SolveResult:
        del budget  # O(periods x partitions)
        t0 = time.perf_counter()
        decisions = {}
        scale_outs = 0
        for g in problem.gpus:
            state = ControllerState(g.initial_mhz, g.up_at_max_streak)
            steps, _ = replay(g.partitions, g.periods, g.clocks, problem.config, state)
            decisions[g.gpu_id] = tuple(steps)
            scale_outs += sum(d.scale_out for d in steps)
        clocks = [d.clock_mhz for steps in decisions.values() for d in steps]
        return SolveResult(
            Status.FEASIBLE,  # a controller: it follows the rules, it does not optimise
            solver=self.name,
            solution=FrequencySolution(decisions),
            objective=sum(clocks) / len(clocks) if clocks else 0.0,
            wall_time_s=time.perf_counter() - t0,
            stats={"scale_out_signals": scale_outs},
        )
