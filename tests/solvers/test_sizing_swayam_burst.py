"""Swayam's burst threshold U: in-use sizing at U x L against the warm-ahead
reserve (in use n(L), held warm n(U x L)), on a step of the rate to U x L."""

import numpy as np
import pytest
from sizing_builders import poisson_workload

from optsched.errors import DomainError
from optsched.sim.simulator import SimConfig, simulate
from optsched.solvers.sizing.service_time import LogNormalServiceTime
from optsched.solvers.sizing.swayam_policy import SwayamConfig, SwayamPolicy

MEAN_S = 0.05
RATE_PER_S = 80.0  # 4 Erlangs before the step, 8 after
STEP_S, END_S = 120.0, 180.0
DELAY_S = 5.0


def _step(t: np.ndarray) -> np.ndarray:
    return np.where(t < STEP_S, RATE_PER_S, 2.0 * RATE_PER_S)


def _run(mode: str, u: float):
    w = poisson_workload(_step, END_S, MEAN_S, seed=11, frontends=2)
    profile = LogNormalServiceTime.from_mean(MEAN_S, 0.25)
    cfg = SwayamConfig(rt_max_s=5 * MEAN_S, burst_factor=u, burst_mode=mode, window_s=60)
    run = simulate(
        w, SwayamPolicy(cfg, service=profile), SimConfig(2, DELAY_S, 5, 5 * MEAN_S, 0.99, 60.0)
    )
    return w, run


def _within_after_step(w, run, seconds: float) -> float:
    after = (w.arrivals_s >= STEP_S) & (w.arrivals_s < STEP_S + seconds)
    return float(np.mean(run.response_s[after] <= 5 * MEAN_S))


def test_warm_ahead_absorbs_a_step_of_u_within_the_provisioning_delay() -> None:
    w, run = _run("warm-ahead", 2.0)
    # The reserve is warm before the step: the pool does not grow at the step.
    t = run.timeline_s
    held_before = run.timeline_backends[(t > STEP_S - 10) & (t < STEP_S)]
    assert held_before.min() >= held_before.max() - 1
    assert _within_after_step(w, run, DELAY_S) >= 0.97
    assert run.windows_met == 1.0


def test_without_a_burst_margin_the_step_waits_for_provisioning() -> None:
    w, run = _run("in-use", 1.0)
    assert _within_after_step(w, run, DELAY_S) < 0.9


def test_both_modes_hold_n_of_u_times_l_and_cost_alike() -> None:
    _, in_use = _run("in-use", 2.0)
    _, warm = _run("warm-ahead", 2.0)
    assert warm.backend_seconds == pytest.approx(in_use.backend_seconds, rel=0.1)
    assert in_use.windows_met == 1.0


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"burst_mode": "lazy"}, "burst_mode"), ({"burst_factor": 0.5}, "burst_factor")],
)
def test_bad_burst_configuration(changes: dict, field: str) -> None:
    with pytest.raises(DomainError, match=field):
        SwayamConfig(rt_max_s=0.25, **changes)
