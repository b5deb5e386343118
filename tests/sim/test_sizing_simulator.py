"""The discrete-event simulator: exact FIFO behaviour on hand-checked
cases, M/M/n statistics, and the compliance metric."""

import numpy as np
import pytest

from optsched.errors import DomainError
from optsched.sim.metrics import share_of_windows_met, window_compliance
from optsched.sim.simulator import SimConfig, Workload, simulate
from optsched.solvers.sizing.response_time import erlang_c
from optsched.solvers.sizing.static_pool import StaticPolicy


def test_single_backend_fifo_by_hand() -> None:
    w = Workload(
        np.array([0.0, 0.5, 0.6, 5.0]), np.array([1.0, 1.0, 0.5, 0.2]), np.zeros(4, dtype=int), 6.0
    )
    run = simulate(w, StaticPolicy(1), SimConfig(1, 5.0, 1, 1.5, 0.5, 6.0))
    # Starts: 0, 1.0, 2.0, 5.0 -> responses 1.0, 1.5, 1.9, 0.2.
    assert run.response_s.tolist() == pytest.approx([1.0, 1.5, 1.9, 0.2])
    assert run.requests_within == pytest.approx(0.75)
    assert run.backend_seconds == pytest.approx(6.0)


def test_requests_only_use_their_frontends_backends() -> None:
    # Frontend 0 uses 1 backend, frontend 1 uses 2: two simultaneous
    # requests from frontend 0 queue, two from frontend 1 do not.
    class Split(StaticPolicy):
        def _decision(self):  # type: ignore[no-untyped-def]
            from optsched.sim.policy import ScalingDecision

            return ScalingDecision((1, 2))

    w = Workload(np.array([0.0, 0.0, 3.0, 3.0]), np.ones(4), np.array([0, 0, 1, 1]), 6.0)
    run = simulate(w, Split(2), SimConfig(2, 1.0, 2, 1.5, 0.5, 6.0))
    assert run.response_s.tolist() == pytest.approx([1.0, 2.0, 1.0, 1.0])


def test_mmn_wait_probability_matches_erlang_c() -> None:
    rng = np.random.default_rng(11)
    n, lam, mean_s, requests = 4, 30.0, 0.1, 60_000
    t = np.sort(rng.uniform(0, requests / lam, requests))
    service = rng.exponential(mean_s, requests)
    w = Workload(t, service, np.zeros(requests, dtype=int), requests / lam)
    run = simulate(w, StaticPolicy(n), SimConfig(1, 0.0, n, 1.0, 0.99, 60.0))
    waited = np.mean(run.response_s - service > 1e-12)
    assert waited == pytest.approx(erlang_c(n, lam * mean_s), abs=0.02)
    mean_wait = float(np.mean(run.response_s - service))
    assert mean_wait == pytest.approx(erlang_c(n, lam * mean_s) / (n / mean_s - lam), rel=0.1)


def test_window_compliance() -> None:
    arrivals = np.array([1.0, 2.0, 3.0, 11.0, 12.0, 25.0])
    response = np.array([0.1, 0.1, 0.9, 0.1, 0.1, 0.1])
    frac = window_compliance(arrivals, response, 0.5, 10.0, 40.0)
    assert frac[:3].tolist() == pytest.approx([2 / 3, 1.0, 1.0])
    assert np.isnan(frac[3])
    assert share_of_windows_met(frac, 0.99) == pytest.approx(2 / 3)


def test_bad_workload() -> None:
    with pytest.raises(DomainError):
        Workload(np.array([2.0, 1.0]), np.ones(2), np.zeros(2, dtype=int), 5.0)
    with pytest.raises(DomainError):
        Workload(np.array([1.0]), np.zeros(1), np.zeros(1, dtype=int), 5.0)
