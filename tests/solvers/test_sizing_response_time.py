"""The response-time model against closed forms (M/M/n), the simulator, and
its own invariants."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched.sim.simulator import SimConfig, Workload, simulate
from optsched.solvers.sizing.response_time import (
    allen_cunneen_wait,
    erlang_c,
    min_backends,
    p_response_within,
    stability_bound,
)
from optsched.solvers.sizing.service_time import ExponentialServiceTime, LogNormalServiceTime
from optsched.solvers.sizing.static_pool import StaticPolicy


def erlang_c_factorial(n: int, a: float) -> float:
    """Textbook closed form: (a^n/n! * n/(n-a)) / (sum_{k<n} a^k/k! + a^n/n! * n/(n-a))."""
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def mmn_response_tail(n: int, lam: float, mu: float, t: float) -> float:
    """M/M/n FCFS: P(T > t) = (1-C) e^(-mu t) + C (theta e^(-mu t) - mu e^(-theta t)) / (theta - mu),
    theta = n mu - lam (and C (1 + mu t) e^(-mu t) for the term when theta = mu)."""
    c = erlang_c_factorial(n, lam / mu)
    theta = n * mu - lam
    if abs(theta - mu) < 1e-12:
        both = (1 + mu * t) * math.exp(-mu * t)
    else:
        both = (theta * math.exp(-mu * t) - mu * math.exp(-theta * t)) / (theta - mu)
    return (1 - c) * math.exp(-mu * t) + c * both


@pytest.mark.parametrize(
    ("n", "a"), [(1, 0.5), (2, 1.5), (5, 3.0), (10, 9.5), (20, 12.0), (40, 39.0)]
)
def test_erlang_c_matches_factorial_closed_form(n: int, a: float) -> None:
    assert erlang_c(n, a) == pytest.approx(erlang_c_factorial(n, a), rel=1e-10)


def test_erlang_c_single_server_is_utilization() -> None:
    assert erlang_c(1, 0.7) == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("n", "lam", "mean_s", "x"),
    [(1, 5.0, 0.1, 0.3), (3, 20.0, 0.1, 0.25), (8, 70.0, 0.1, 0.5), (4, 20.0, 0.1, 0.4)],
)
def test_mmn_response_time_matches_closed_form(n: int, lam: float, mean_s: float, x: float) -> None:
    service = ExponentialServiceTime(mean_s)
    wait = allen_cunneen_wait(n, lam, service)
    assert wait.decay_per_s == pytest.approx(n / mean_s - lam)  # Allen-Cunneen is exact at Cs^2 = 1
    expected = 1 - mmn_response_tail(n, lam, 1 / mean_s, x)
    assert p_response_within(n, lam, service, x) == pytest.approx(expected, abs=1e-8)


def test_unstable_pool_never_meets_anything() -> None:
    service = LogNormalServiceTime.from_mean(0.1, 0.3)
    assert p_response_within(5, 50.0, service, 10.0) == 0.0
    assert stability_bound(50.0, 0.1) == 6


def _simulated_compliance(
    n: int, load: float, service: LogNormalServiceTime, rt_max_s: float, seed: int
) -> float:
    rng = np.random.default_rng(seed)
    rate = load / service.mean_s
    requests = 40_000
    duration = requests / rate
    arrivals = np.sort(rng.uniform(0, duration, requests))
    w = Workload(arrivals, service.sample(rng, requests), rng.integers(0, 4, requests), duration)
    return simulate(
        w, StaticPolicy(n), SimConfig(4, 0.0, n, rt_max_s, 0.99, duration)
    ).requests_within


@pytest.mark.parametrize(
    ("load", "n", "x_over_mean"),
    [(1.5, 2, 2.0), (3.5, 4, 3.0), (6.0, 7, 2.0), (12.0, 13, 5.0), (12.0, 14, 2.0)],
)
def test_model_agrees_with_simulator(load: float, n: int, x_over_mean: float) -> None:
    service = LogNormalServiceTime.from_mean(0.05, 0.3)
    rt_max_s = x_over_mean * service.mean_s
    predicted = p_response_within(n, load / service.mean_s, service, rt_max_s)
    assert abs(predicted - _simulated_compliance(n, load, service, rt_max_s, seed=n)) < 0.03


def test_min_backends_is_the_first_n_that_meets_the_sla() -> None:
    service = LogNormalServiceTime.from_mean(0.05, 0.3)
    rate, x, sl = 300.0, 0.1, 0.99
    ans = min_backends(rate, service, x, sl, 1000)
    assert ans is not None
    assert ans.backends >= stability_bound(rate, service.mean_s)
    assert ans.compliance == pytest.approx(p_response_within(ans.backends, rate, service, x))
    assert ans.compliance >= sl
    assert p_response_within(ans.backends - 1, rate, service, x) < sl


def test_min_backends_reports_infeasible() -> None:
    service = LogNormalServiceTime.from_mean(0.05, 0.3)
    # RT_max at the service-time median: the service time alone misses 99 %.
    assert min_backends(10.0, service, service.quantile(0.5), 0.99, 1000) is None
    # Enough backends exist, but not within the cap.
    assert min_backends(1000.0, service, 0.25, 0.99, 10) is None


services = st.builds(LogNormalServiceTime.from_mean, st.floats(0.01, 0.5), st.floats(0.05, 0.8))


@settings(max_examples=40, deadline=None)
@given(services, st.floats(0.1, 40.0), st.integers(1, 60))
def test_compliance_rises_with_backends(service: LogNormalServiceTime, load: float, n: int) -> None:
    rate, x = load / service.mean_s, 5 * service.mean_s
    assert (
        p_response_within(n + 1, rate, service, x) >= p_response_within(n, rate, service, x) - 1e-9
    )


@settings(max_examples=40, deadline=None)
@given(services, st.floats(0.1, 30.0), st.floats(1.0, 3.0), st.floats(0.5, 0.999))
def test_backends_rise_with_load(
    service: LogNormalServiceTime, load: float, more: float, sl: float
) -> None:
    x = 5 * service.mean_s
    low = min_backends(load / service.mean_s, service, x, sl, 500)
    high = min_backends(load * more / service.mean_s, service, x, sl, 500)
    if low is None:
        assert high is None
    elif high is not None:
        assert high.backends >= low.backends


@settings(max_examples=40, deadline=None)
@given(services, st.floats(0.1, 30.0), st.floats(0.5, 0.99), st.floats(0.0, 0.009))
def test_backends_rise_with_service_level(
    service: LogNormalServiceTime, load: float, sl: float, more: float
) -> None:
    rate, x = load / service.mean_s, 5 * service.mean_s
    low = min_backends(rate, service, x, sl, 500)
    high = min_backends(rate, service, x, sl + more, 500)
    if low is None:
        assert high is None
    elif high is not None:
        assert high.backends >= low.backends
