"""Runs solves for the gRPC servicers and the extender: admission (a cap on
concurrent solves), the effective budget, and a thread pool sized to the
machine.

Small requests whose named one-shot solver is predicted (by its latency
model) to answer within INLINE_MAX_S are converted and solved on the event
loop: the hand-off to a worker thread and back costs about as much.

Under contention the budget is shared: a solve that starts while others
wait for a worker gets at most its fair share of the time until the earliest
waiting deadline (:func:`shared_budget`), so an anytime solver does not spend
the whole of a long budget while the requests queued behind it run out of
theirs. Without waiting requests (or when none has a deadline) the budget is
min(requested, own deadline - margin).

Why threads, not processes: CP-SAT spends its time in C++ with the GIL
released, so threads run CP-SAT solves in parallel; small heuristic requests
take about a millisecond, and a process pool's pickling round trip
(measured at ~0.6 ms per request on the 2-core target) would cost a third of
the throughput. To use more cores for small requests, whole serving
processes share the port instead (:mod:`optsched.api.replicas`): each
converts, solves and answers its own connections' requests, with no
hand-off. Crash isolation is kept where it matters: batch jobs, which run
long and may be cancelled, run each in its own process (see
:mod:`optsched.api.jobs.runner`).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
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
# The least budget a shared solve gets: below it an anytime solver has no
# time for more than its first answer anyway.
MIN_SHARE_S = 0.02


def shared_budget(
    requested_s: float, own_left_s: float | None, waiting_left_s: list[float], workers: int
) -> float:
    """The budget of a solve that starts now: at most ``requested_s`` and its
    own time left, and, with requests waiting for one of ``workers`` threads
    (``waiting_left_s``: the time left to each waiting request with a
    deadline), at most a fair share of the time to the earliest waiting
    deadline: spread over the waiting requests and the ones starting now on
    every thread, ``earliest * workers / (waiting + workers)``, so that the
    queue is served before its deadlines if every solve keeps to its share.
    Never below MIN_SHARE_S (nor above the own time left)."""
    budget = requested_s if own_left_s is None else min(requested_s, own_left_s)
    if waiting_left_s:
        earliest = max(0.0, min(waiting_left_s))
        share = earliest * workers / (len(waiting_left_s) + workers)
        budget = min(budget, max(share, MIN_SHARE_S))
    return budget


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
        # deadlines (monotonic) of admitted solves that wait for a worker
        self.waiting: dict[int, float] = {}
        self._tickets = itertools.count()
        self._lock = threading.Lock()
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
            return await self.run(
                self.solve_problem,
                kind,
                request,
                problem,
                solver,
                deadline_at,
                deadline_at=deadline_at,
            )
        return await self.run(self.solve_sync, kind, request, deadline_at, deadline_at=deadline_at)

    def quick(self, solver: str, problem: Any) -> bool:
        model = self.portfolio.latency.get(solver)
        return (
            model is not None
            and solver in self.one_shot
            and model.predict(problem.size()) <= INLINE_MAX_S
        )

    async def run(self, fn: Any, *args: Any, deadline_at: float | None = None) -> Any:
        """``fn(*args)`` in a worker thread; ``deadline_at`` (the solve's)
        counts in the budget shares of the solves that start while it waits."""
        if self.in_flight >= self.config.cap:
            self.metrics.rejected.inc()
            raise Overloaded(f"{self.in_flight} solves in flight, the limit is {self.config.cap}")
        self.in_flight += 1
        self.metrics.in_flight.set(self.in_flight)
        ticket = next(self._tickets)
        if deadline_at is not None:
            with self._lock:
                self.waiting[ticket] = deadline_at
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.pool, self._started, ticket, fn, args
            )
        finally:
            with self._lock:
                self.waiting.pop(ticket, None)
            self.in_flight -= 1
            self.metrics.in_flight.set(self.in_flight)

    def _started(self, ticket: int, fn: Any, args: tuple[Any, ...]) -> Any:
        with self._lock:
            self.waiting.pop(ticket, None)
        return fn(*args)

    def effective_budget(self, requested_s: float, deadline_at: float | None) -> float:
        now = time.monotonic()
        own = None if deadline_at is None else deadline_at - now
        if own is not None and own <= 0:
            raise DeadlineExceeded("the deadline leaves no time to solve")
        with self._lock:
            waiting = [d - now for d in self.waiting.values() if d > now]
        budget = shared_budget(requested_s, own, waiting, self.config.workers)
        if budget < requested_s and (own is None or budget < own):
            self.metrics.shared.inc()
        return budget

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
        m = self.metrics
        m.child(m.solve_latency, kind.name, result.solver).observe(result.wall_time_s)
        m.child(m.choices, kind.name, result.solver, result.status.value).inc()
        self.metrics.record_guards(self.portfolio.guards)
        return kind.response_for(result, budget_s)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
