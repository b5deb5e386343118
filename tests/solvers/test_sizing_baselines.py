"""ClairA1, ClairA2, the HPA rule, the static pool and the Swayam policy."""

import numpy as np
import pytest
from sizing_builders import poisson_workload

from optsched.sim.policy import Observation
from optsched.sim.simulator import SimConfig, simulate
from optsched.solvers.sizing.clairvoyant import ClairvoyantConfig, clairvoyant
from optsched.solvers.sizing.hpa import HpaPolicy, hpa_desired
from optsched.solvers.sizing.service_time import LogNormalServiceTime
from optsched.solvers.sizing.static_pool import StaticPolicy
from optsched.solvers.sizing.swayam_policy import SwayamConfig, SwayamPolicy


def test_claira1_costs_exactly_the_work_and_meets_every_deadline() -> None:
    w = poisson_workload(lambda t: np.full_like(t, 80.0), 120.0, 0.05, seed=1)
    run = clairvoyant(
        w.arrivals_s,
        w.service_s,
        0.25,
        ClairvoyantConfig("ClairA1", 0.0, 0.0, 5),
        w.duration_s,
        0.99,
        60.0,
    )
    assert run.backend_seconds == pytest.approx(float(w.service_s.sum()))
    assert run.requests_within == 1.0 and run.windows_met == 1.0


def test_claira2_pays_setup_and_lazy_scale_in() -> None:
    w = poisson_workload(lambda t: 40.0 + 40.0 * (t > 60), 120.0, 0.05, seed=2)
    a1 = clairvoyant(
        w.arrivals_s,
        w.service_s,
        0.25,
        ClairvoyantConfig("ClairA1", 0.0, 0.0, 5),
        w.duration_s,
        0.99,
        60.0,
    )
    a2 = clairvoyant(
        w.arrivals_s,
        w.service_s,
        0.25,
        ClairvoyantConfig("ClairA2", 5.0, 10.0, 5),
        w.duration_s,
        0.99,
        60.0,
    )
    assert a2.backend_seconds > a1.backend_seconds
    assert a2.requests_within == 1.0
    assert a2.timeline_backends.max() >= 5


@pytest.mark.parametrize(
    ("current", "util", "target", "expected"),
    [
        (4, 0.5, 0.5, 4),
        (4, 0.54, 0.5, 4),
        (4, 0.46, 0.5, 4),
        (4, 0.6, 0.5, 5),
        (4, 1.0, 0.5, 8),
        (10, 0.2, 0.5, 4),
    ],
)
def test_hpa_rule(current: int, util: float, target: float, expected: int) -> None:
    assert hpa_desired(current, util, target) == expected


def _obs(now_s: float, busy_s: float, period_s: float = 15.0) -> Observation:
    return Observation(now_s, np.zeros((1, int(now_s))), busy_s, period_s, 0, 0, ())


def test_hpa_scales_up_at_once_and_down_after_stabilization() -> None:
    hpa = HpaPolicy(target_utilization=0.5)
    assert hpa.start(1, 4).in_use == (4,)
    assert hpa.decide(_obs(15, busy_s=4 * 15 * 1.0)).in_use == (8,)  # 100 % busy -> double
    for t in range(30, 300, 15):
        assert hpa.decide(_obs(t, busy_s=1.0)).in_use == (8,)  # idle, but within 300 s
    assert hpa.decide(_obs(330, busy_s=1.0)).in_use[0] < 8


def test_static_pool_keeps_its_size() -> None:
    w = poisson_workload(lambda t: np.full_like(t, 30.0), 60.0, 0.1, seed=3)
    run = simulate(w, StaticPolicy(6), SimConfig(8, 5.0, 6, 0.5, 0.99, 30.0))
    assert run.backend_seconds == pytest.approx(6 * 60.0, rel=0.01)
    assert set(run.timeline_backends.tolist()) == {6}


def test_swayam_scales_out_on_a_ramp_and_meets_the_sla() -> None:
    mean_s = 0.05
    w = poisson_workload(lambda t: 20.0 + 1.0 * t, 240.0, mean_s, seed=4)
    profile = LogNormalServiceTime.from_mean(mean_s, 0.25)
    policy = SwayamPolicy(SwayamConfig(rt_max_s=5 * mean_s, window_s=60), service=profile)
    run = simulate(w, policy, SimConfig(8, 5.0, 5, 5 * mean_s, 0.99, 60.0))
    assert run.timeline_backends[-1] > run.timeline_backends[10]
    assert run.windows_met == 1.0
    # Burst threshold U = 2 plus queueing margin: more than the work, bounded.
    assert 1.5 < run.backend_seconds / float(w.service_s.sum()) < 4.0
