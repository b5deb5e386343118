"""Runs solves for the gRPC servicers and the extender: admission (a cap on
concurrent solves), the effective budget, and a thread pool sized to the
machine.

Small requests whose named one-shot solver is predicted (by its latency
model) to answer within INLINE_MAX_S are converted and solved on the event
loop: the hand-off to a worker thread and back costs about as much.

Why threads, not processes: CP-SAT spends its time in C++ with the GIL
released, so threads run CP-SAT solves in parallel; small heuristic requests
take about a millisecond, and a process pool's pickling round trip
(measured at ~0.6 ms per request on the 2-core target) would cost a third of
the throughput; and the portfolio's guard-rails (the learned solver's
measured gaps) must be shared by every request, which one process gives for
free. Crash isolation is kept where it matters: batch jobs, which run long
and may be cancelled, run each in its own process (see
:mod:`optsched.api.jobs.runner`).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from optsched.api.config import ServerConfig
from optsched.api.convert_problems import Kind, budget_from_proto
from optsched.api.errors import DeadlineExceeded, Overloaded
from optsched.api.metrics import Metrics
from optsched.budget import Budget
from optsched.errors import DomainError
from optsched.portfolio import Portfolio

# A request at most this large is converted on the event loop (well under a
# millisecond) and, with a one-shot solver predicted to take at most
# INLINE_MAX_S, solved there too: on 2 cores the round trip through a worker
# thread costs about as much as such a solve.
INLINE_MAX_BYTES = 16 * 1024
INLINE_MAX_S = 0.003


def check_solver(
    portfolio: Portfolio, name: str, problem: Any, field: str = "solver"
) -> str | None:
    if not name:
        return None
    if name not in portfolio.registry.names(problem.kind):
        known = ", ".join(portfolio.registry.names(problem.kind)) or "none"
        raise DomainError(field, f"unknown solver {name!r} for {problem.kind}; available: {known}")
    return name


class SolveService:
    def __init__(self, config: ServerConfig, portfolio: Portfolio, metrics: Metrics) -> None:
        self.config, self.portfolio, self.metrics = config, portfolio, metrics
        self.pool = ThreadPoolExecutor(config.workers, thread_name_prefix="solve")
        self.in_flight = 0
        # solvers that answer once, without searching until the budget ends
        self.one_shot = frozenset(n for n, c in portfolio.capabilities().items() if not c.anytime)

    def deadline_at(self, time_remaining_s: float | None) -> float | None:
        """The monotonic time by which the answer must be ready, or None."""
        if time_remaining_s is None:
            return None
        return time.monotonic() + time_remaining_s - self.config.margin(time_remaining_s)

    async def solve(self, kind: Kind, request: Any, time_remaining_s: float | None) -> Any:
        """The response to ``request``; raises DomainError, Overloaded or
        DeadlineExceeded."""
        deadline_at = self.deadline_at(time_remaining_s)
        if request.ByteSize() <= INLINE_MAX_BYTES:
            # small: convert here, and solve here too when the named solver's
            # latency model predicts less than the hand-off to a worker
            # thread and back costs
            problem = kind.problem(request, self.config.limits)
            solver = check_solver(self.portfolio, request.solver, problem)
            if solver is not None and self.quick(solver, problem):
                self.metrics.inline.inc()
                return self.solve_problem(kind, request, problem, solver, deadline_at)
            return await self.run(self.solve_problem, kind, request, problem, solver, deadline_at)
        return await self.run(self.solve_sync, kind, request, deadline_at)

    def quick(self, solver: str, problem: Any) -> bool:
        model = self.portfolio.latency.get(solver)
        return (
            model is not None
            and solver in self.one_shot
            and model.predict(problem.size()) <= INLINE_MAX_S
        )

    async def run(self, fn: Any, *args: Any) -> Any:
        if self.in_flight >= self.config.cap:
            self.metrics.rejected.inc()
            raise Overloaded(f"{self.in_flight} solves in flight, the limit is {self.config.cap}")
        self.in_flight += 1
        self.metrics.in_flight.set(self.in_flight)
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.set(self.in_flight)

    def effective_budget(self, requested_s: float, deadline_at: float | None) -> float:
        if deadline_at is None:
            return requested_s
        left = deadline_at - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("the deadline leaves no time to solve")
        return min(requested_s, left)

    def solve_sync(self, kind: Kind, request: Any, deadline_at: float | None) -> Any:
        """Convert, solve with the portfolio, convert back (in a worker thread)."""
        problem = kind.problem(request, self.config.limits)
        solver = check_solver(self.portfolio, request.solver, problem)
        return self.solve_problem(kind, request, problem, solver, deadline_at)

    def solve_problem(
        self, kind: Kind, request: Any, problem: Any, solver: str | None, deadline_at: float | None
    ) -> Any:
        requested = budget_from_proto(
            request.budget, "budget", self.config.default_budget_s, self.config.limits.max_budget_s
        )
        budget_s = self.effective_budget(requested, deadline_at)
        result = self.portfolio.run(problem, Budget(budget_s), solver)
        self.metrics.solve_latency.labels(kind.name, result.solver).observe(result.wall_time_s)
        self.metrics.choices.labels(kind.name, result.solver, result.status.value).inc()
        self.metrics.record_guards(self.portfolio.guards)
        return kind.response_for(result, budget_s)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
