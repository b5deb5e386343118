"""Least-squares rate prediction over the provisioning horizon."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched.errors import DomainError
from optsched.solvers.sizing.rate_prediction import (
    MIN_SLOPE_BINS,
    LinearRatePredictor,
    expected_max_normal,
    family_z,
)


def ramp_counts(start_per_s: float, slope_per_s2: float, bins: int) -> np.ndarray:
    """Exact expected counts per 1-s bin of a linear ramp ending now."""
    centres = np.arange(bins) + 0.5
    return start_per_s + slope_per_s2 * centres


@settings(max_examples=50, deadline=None)
@given(
    st.floats(0.0, 500.0),
    st.floats(0.0, 5.0),
    st.integers(MIN_SLOPE_BINS, 300),
    st.floats(0.0, 30.0),
)
def test_linear_ramp_is_extrapolated_exactly(
    start: float, slope: float, bins: int, horizon: float
) -> None:
    p = LinearRatePredictor(window_bins=bins, bin_s=1.0, horizon_s=horizon)
    predicted = p.predict_local(ramp_counts(start, slope, bins))[0]
    assert predicted == pytest.approx(start + slope * (bins + horizon), rel=1e-6, abs=1e-6)


def test_short_history_uses_the_mean() -> None:
    p = LinearRatePredictor(window_bins=60, bin_s=1.0, horizon_s=5.0)
    counts = np.array([[2.0, 9.0, 4.0]])  # three seconds after start-up
    assert p.predict_local(counts)[0] == pytest.approx(5.0)


def test_falling_ramp_keeps_the_current_rate() -> None:
    p = LinearRatePredictor(window_bins=60, bin_s=1.0, horizon_s=10.0)
    counts = ramp_counts(100.0, -1.0, 60)
    assert p.predict_local(counts)[0] == pytest.approx(100.0 - 60.0)


def test_global_rate_is_frontends_times_local() -> None:
    p = LinearRatePredictor(window_bins=30, bin_s=1.0, horizon_s=5.0)
    counts = np.vstack([ramp_counts(10.0, 0.5, 30), ramp_counts(20.0, 0.0, 30)])
    local = p.predict_local(counts)
    assert np.allclose(p.predict_global(counts, 8), 8 * local)
    assert local[1] == pytest.approx(20.0)


def test_noisy_flat_rate_uses_the_window_mean() -> None:
    rng = np.random.default_rng(5)
    p = LinearRatePredictor(window_bins=300, bin_s=1.0, horizon_s=5.0)
    counts = rng.poisson(4.0, size=(200, 300))
    predicted = p.predict_local(counts)
    # Without the slope test the end-of-window value would scatter twice as wide.
    assert np.mean(np.abs(predicted - 4.0)) < 0.15


def test_noisy_ramp_is_tracked() -> None:
    rng = np.random.default_rng(6)
    p = LinearRatePredictor(window_bins=120, bin_s=1.0, horizon_s=5.0)
    counts = rng.poisson(ramp_counts(20.0, 0.25, 120))
    assert p.predict_local(counts)[0] == pytest.approx(20.0 + 0.25 * 125, rel=0.1)


def test_expected_max_of_normals_matches_closed_forms() -> None:
    assert expected_max_normal(1) == 0.0
    assert expected_max_normal(2) == pytest.approx(1 / np.sqrt(np.pi), abs=1e-4)
    assert expected_max_normal(3) == pytest.approx(1.5 / np.sqrt(np.pi), abs=1e-4)
    assert family_z(2.0, 1) == pytest.approx(2.0)
    assert 2.7 < family_z(2.0, 8) < 2.8


def test_largest_of_f_frontend_estimates_is_debiased() -> None:
    # 8 frontends, each Poisson(4) per second over 300 s: the largest plain
    # estimate is at least 1.42 standard errors high (more with chance
    # slopes, extrapolated); with max_of = 8 it is unbiased.
    rng = np.random.default_rng(8)
    rate, frontends, bins, trials = 4.0, 8, 300, 300
    counts = rng.poisson(rate, size=(trials, frontends, bins))
    se = np.sqrt(rate / bins)

    def bias(max_of: int) -> float:
        p = LinearRatePredictor(window_bins=bins, bin_s=1.0, horizon_s=5.0, max_of=max_of)
        return float(np.mean([p.predict_local(c).max() for c in counts]) - rate)

    assert bias(1) > 0.95 * expected_max_normal(frontends) * se
    assert abs(bias(frontends)) < 0.25 * se


def test_bad_configuration() -> None:
    with pytest.raises(DomainError):
        LinearRatePredictor(window_bins=1, bin_s=1.0, horizon_s=1.0)
    with pytest.raises(DomainError):
        LinearRatePredictor(window_bins=10, bin_s=0.0, horizon_s=1.0)
    with pytest.raises(DomainError, match="max_of"):
        LinearRatePredictor(window_bins=10, bin_s=1.0, horizon_s=1.0, max_of=0)
    with pytest.raises(DomainError):
        LinearRatePredictor(window_bins=10, bin_s=1.0, horizon_s=1.0).predict_global(
            np.ones((1, 10)), 0
        )
