"""The Azure Functions 2019 invocation CSV format, the shipped sample and
the synthetic generator."""

from pathlib import Path

import numpy as np
import pytest

from optsched.datasets.azure_functions import (
    HEADER,
    MINUTES_PER_DAY,
    FunctionTrace,
    arrivals_from_counts,
    load_sample,
    read_invocations_csv,
    write_invocations_csv,
)
from optsched.datasets.synthetic_invocations import DiurnalShape, minute_rates, synthetic_day
from optsched.errors import DomainError


def test_header_is_the_trace_format() -> None:
    assert HEADER[:4] == ("HashOwner", "HashApp", "HashFunction", "Trigger")
    assert HEADER[4] == "1" and HEADER[-1] == "1440" and len(HEADER) == 4 + MINUTES_PER_DAY


def test_round_trip(tmp_path: Path) -> None:
    rows = synthetic_day(3, seed=1)
    path = tmp_path / "d01.csv"
    write_invocations_csv(path, rows)
    back = read_invocations_csv(path)
    assert [r.function for r in back] == [r.function for r in rows]
    assert all(
        np.array_equal(a.counts_per_minute, b.counts_per_minute)
        for a, b in zip(rows, back, strict=True)
    )


def test_malformed_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("HashOwner,HashApp\nx,y\n")
    with pytest.raises(DomainError, match="missing columns"):
        read_invocations_csv(bad)
    row = FunctionTrace("o", "a", "f", "http", np.zeros(MINUTES_PER_DAY, dtype=np.int64))
    write_invocations_csv(bad, [row])
    bad.write_text(bad.read_text().replace(",0\n", ",-4\n", 1))
    with pytest.raises(DomainError, match="non-negative"):
        read_invocations_csv(bad)


def test_shipped_sample_loads() -> None:
    rows = load_sample()
    assert len(rows) == 16
    assert all(r.counts_per_minute.shape == (MINUTES_PER_DAY,) and r.total > 0 for r in rows)


def test_counts_are_spread_within_their_minute() -> None:
    counts = np.array([3, 0, 5, 1])
    t = arrivals_from_counts(counts, np.random.default_rng(0))
    assert np.all(np.diff(t) >= 0)
    assert np.bincount((t // 60).astype(int), minlength=4).tolist() == counts.tolist()


def test_generator_is_seeded_and_diurnal() -> None:
    a, b = synthetic_day(2, seed=9), synthetic_day(2, seed=9)
    assert all(
        np.array_equal(x.counts_per_minute, y.counts_per_minute) for x, y in zip(a, b, strict=True)
    )
    shape = DiurnalShape(
        base_per_minute=1000.0, amplitude=0.5, peak_minute=14 * 60, bursts_per_day=0.0
    )
    rates = minute_rates(shape, np.random.default_rng(0))
    assert int(np.argmax(rates)) == 14 * 60
    assert rates.max() == pytest.approx(1500.0) and rates.min() == pytest.approx(500.0)


def test_bursts_raise_the_rate() -> None:
    flat = DiurnalShape(
        base_per_minute=100.0, amplitude=0.0, bursts_per_day=50.0, burst_factor_range=(2.0, 2.0)
    )
    rates = minute_rates(flat, np.random.default_rng(2))
    assert rates.max() >= 200.0 - 1e-9 and rates.min() == pytest.approx(100.0)
