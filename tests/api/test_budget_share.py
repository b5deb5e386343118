"""Budgets under contention: a solve that starts while others wait for a
worker gets at most its fair share of the time to the earliest waiting
deadline (api/solving.py)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched.api.config import QUEUE_PER_WORKER, ServerConfig
from optsched.api.errors import DeadlineExceeded
from optsched.api.metrics import Metrics
from optsched.api.solving import MIN_SHARE_S, SolveService, shared_budget
from optsched.portfolio import Portfolio

seconds = st.floats(0.0, 100.0, allow_nan=False)


def test_alone_the_budget_is_the_request_capped_by_its_deadline() -> None:
    assert shared_budget(5.0, None, [], 2) == 5.0
    assert shared_budget(5.0, 0.8, [], 2) == 0.8
    assert shared_budget(0.5, 0.8, [], 2) == 0.5


def test_waiting_requests_cut_the_budget_to_a_share_of_the_earliest_deadline() -> None:
    # 6 waiting on 2 threads: 8 solves share 2 threads' 0.9 s
    assert shared_budget(5.0, 0.95, [0.9, 0.95, 1.0, 2.0, 3.0, 0.92], 2) == pytest.approx(0.9 / 4)
    # a generous queue leaves the budget alone
    assert shared_budget(0.1, 0.95, [10.0], 2) == 0.1


def test_the_share_has_a_floor_but_never_exceeds_the_own_deadline() -> None:
    assert shared_budget(5.0, 1.0, [0.001] * 50, 2) == MIN_SHARE_S
    assert shared_budget(5.0, 0.01, [0.001] * 50, 2) == 0.01


@settings(max_examples=200, deadline=None)
@given(
    requested=st.floats(0.001, 100.0),
    own=st.none() | st.floats(0.001, 100.0),
    waiting=st.lists(seconds, max_size=70),
    workers=st.integers(1, 16),
)
def test_shares_fit_the_queue_before_its_deadline(
    requested: float, own: float | None, waiting: list[float], workers: int
) -> None:
    budget = shared_budget(requested, own, waiting, workers)
    assert 0 < budget <= requested
    if own is not None:
        assert budget <= own
    if waiting:
        earliest = min(waiting)
        # every waiting solve and one starting on each thread, each at most
        # this share: together they fit the threads' time to the earliest
        # waiting deadline (unless the floor applies)
        if budget > MIN_SHARE_S:
            assert (len(waiting) + workers) * budget <= earliest * workers * (1 + 1e-9)
    else:
        assert budget == (requested if own is None else min(requested, own))


def test_service_shares_with_the_requests_that_wait_and_counts_it() -> None:
    service = SolveService(ServerConfig(workers=1), Portfolio(), Metrics())
    try:
        now = time.monotonic()
        assert service.effective_budget(5.0, now + 2.0) == pytest.approx(2.0, abs=0.05)
        service.waiting.update({1: now + 1.0, 2: now + 3.0, 3: now - 1.0})  # 3 has expired
        budget = service.effective_budget(5.0, now + 2.0)
        assert budget == pytest.approx(1.0 / 3, abs=0.05)  # 2 waiting + 1 starting
        assert service.metrics.shared._value.get() == 1
        with pytest.raises(DeadlineExceeded):
            service.effective_budget(5.0, now - 0.1)
        # no own deadline: still the share of the earliest waiting one
        assert service.effective_budget(5.0, None) == pytest.approx(1.0 / 3, abs=0.05)
    finally:
        service.shutdown()


def test_each_process_admits_what_the_whole_server_has_threads_for() -> None:
    # the kernel may hand one process most connections, so its cap counts
    # every process's worker threads
    assert ServerConfig(workers=2).cap == QUEUE_PER_WORKER * 2
    assert ServerConfig(workers=1, processes=2).cap == QUEUE_PER_WORKER * 2
    assert ServerConfig(workers=3, processes=4).cap == QUEUE_PER_WORKER * 12
    assert ServerConfig(workers=1, processes=2, max_concurrent=5).cap == 5
