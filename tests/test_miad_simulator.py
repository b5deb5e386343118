"""The MIAD simulator: latency and power models, arrivals, policy comparison."""

from __future__ import annotations

import numpy as np
import pytest

from optsched.problems.frequency import ClockRange, MiadConfig
from optsched.solvers.miad.arrivals import (
    arrivals_from_counts,
    load_counts,
    mmpp_counts,
    poisson_arrivals,
)
from optsched.solvers.miad.power import PowerModel
from optsched.solvers.miad.simulator import (
    FixedClockPolicy,
    MiadPolicy,
    SimPartition,
    simulate,
    static_best_clock,
)

CLOCKS = ClockRange(200, 1400)


def parts(rate: float, seed: int = 0, duration: float = 120.0) -> list[SimPartition]:
    rng = np.random.default_rng(seed)
    return [
        SimPartition("sens", 200.0, 40.0, 0.9, poisson_arrivals(rate, duration, rng)),
        SimPartition("insens", 300.0, 60.0, 0.2, poisson_arrivals(rate / 2, duration, rng)),
    ]


def test_power_model_passes_through_the_measured_points() -> None:
    pm = PowerModel()
    assert pm.busy_w(1300) == pytest.approx(214.0)
    assert pm.busy_w(800) == pytest.approx(120.0)
    assert pm.power_w(1300, 0.0) == pm.idle_w
    assert pm.power_w(200, 1.0) > pm.idle_w


def test_latency_grows_as_the_clock_drops_by_sensitivity() -> None:
    p = parts(1.0)[0]
    assert p.service_ms(1400, 1400) == pytest.approx(40.0)
    assert p.service_ms(700, 1400) == pytest.approx(40.0 * (0.1 + 0.9 * 2))
    low = simulate(parts(2.0), CLOCKS, FixedClockPolicy(400), 60)
    high = simulate(parts(2.0), CLOCKS, FixedClockPolicy(1400), 60)
    assert np.nanmean(low.latency_ms["sens"]) > np.nanmean(high.latency_ms["sens"])
    assert low.energy_j < high.energy_j


def test_arrivals() -> None:
    rng = np.random.default_rng(1)
    a = arrivals_from_counts([3, 0, 5], 60.0, rng)
    assert len(a) == 8 and np.all(np.diff(a) >= 0) and a[3] >= 120.0
    c = mmpp_counts(600, 2.0, 20.0, 30.0, 10.0, rng)
    assert len(c) == 600 and c.max() > 3 * max(1, int(np.median(c)))
    assert abs(len(poisson_arrivals(10.0, 100.0, rng)) - 1000) < 150


def test_trace_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "t.csv"
    f.write_text("minute,count\n0,4\n# comment\n1,7\n")
    assert load_counts(f) == [4, 7]


def test_miad_saves_energy_and_wider_margins_keep_the_slo() -> None:
    """With the paper's 0.05 thresholds MIAD runs close to the SLO and Poisson
    bursts cost attainment; wider margins trade some saving for the SLO."""
    ps = parts(3.0)
    always = simulate(ps, CLOCKS, FixedClockPolicy(1400, "always-max"), 120)
    paper = simulate(ps, CLOCKS, MiadPolicy([p.slo() for p in ps]), 120)
    assert paper.energy_j < always.energy_j and paper.mean_clock_mhz < 1400
    wide = MiadConfig(up_slack=0.4, down_margin=0.4)
    safe = simulate(ps, CLOCKS, MiadPolicy([p.slo() for p in ps], wide), 120, wide)
    assert safe.slo_attainment >= 0.98 and paper.energy_j < safe.energy_j < always.energy_j
    best = static_best_clock(ps, CLOCKS, 120)
    assert best.slo_attainment >= 0.99 and best.energy_j <= always.energy_j


def test_overload_signals_scale_out() -> None:
    ps = [
        SimPartition("x", 100.0, 90.0, 0.5, poisson_arrivals(20.0, 30.0, np.random.default_rng(2)))
    ]
    res = simulate(ps, CLOCKS, MiadPolicy([p.slo() for p in ps]), 30)
    assert res.scale_out_signals > 0 and res.slo_attainment < 0.5
