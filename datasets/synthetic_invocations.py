"""Seeded synthetic per-minute invocation counts with diurnal patterns and
bursts, in the Azure Functions 2019 format (:mod:`.azure_functions`).

Rate of function f in minute m (per minute):
    r(m) = base x (1 + A sin(2 pi (m - peak + P/4) / P)) x burst(m),
a sinusoid of period P = 1440 min peaking at minute ``peak`` with relative
amplitude A, times burst factors: bursts start as a Poisson process of
``bursts_per_day``, each multiplies the rate by a factor drawn uniformly from
``burst_factor_range`` for a duration drawn uniformly from
``burst_minutes_range``. The count is Poisson(r(m)). Shahrad et al.
(USENIX ATC 2020) report diurnal patterns and bursty invocation in the
real trace; the shapes here are this generator's own choice, not fitted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from optsched.datasets.azure_functions import MINUTES_PER_DAY, TRIGGERS, FunctionTrace
from optsched.errors import DomainError


@dataclass(frozen=True)
class DiurnalShape:
    base_per_minute: float
    amplitude: float = 0.5
    peak_minute: int = 14 * 60  # mid-afternoon
    bursts_per_day: float = 12.0
    burst_factor_range: tuple[float, float] = (1.3, 2.0)
    burst_minutes_range: tuple[int, int] = (1, 10)

    def __post_init__(self) -> None:
        if self.base_per_minute < 0:
            raise DomainError(
                "base_per_minute", f"must be non-negative, got {self.base_per_minute}"
            )
        if not 0 <= self.amplitude < 1:
            raise DomainError("amplitude", f"must lie in [0, 1), got {self.amplitude}")


def minute_rates(
    shape: DiurnalShape, rng: np.random.Generator, minutes: int = MINUTES_PER_DAY
) -> np.ndarray:
    """The expected count per minute r(m) of the module docstring."""
    m = np.arange(minutes, dtype=float)
    phase = 2 * np.pi * (m - shape.peak_minute + MINUTES_PER_DAY / 4) / MINUTES_PER_DAY
    rate = shape.base_per_minute * (1 + shape.amplitude * np.sin(phase))
    n_bursts = rng.poisson(shape.bursts_per_day * minutes / MINUTES_PER_DAY)
    lo_len, hi_len = shape.burst_minutes_range
    for start in rng.integers(0, minutes, n_bursts):
        length = int(rng.integers(lo_len, hi_len + 1))
        rate[start : start + length] *= rng.uniform(*shape.burst_factor_range)
    return rate


def minute_counts(
    shape: DiurnalShape, rng: np.random.Generator, minutes: int = MINUTES_PER_DAY
) -> np.ndarray:
    return rng.poisson(minute_rates(shape, rng, minutes)).astype(np.int64)


def _hash(seed: int, kind: str, k: int) -> str:
    return hashlib.sha256(f"{seed}:{kind}:{k}".encode()).hexdigest()


def synthetic_day(
    functions: int, seed: int, base_range_per_minute: tuple[float, float] = (60.0, 6000.0)
) -> list[FunctionTrace]:
    """``functions`` rows of one synthetic day; base rates log-uniform in the
    range, peaks and amplitudes varied per function, hashed identifiers."""
    rng = np.random.default_rng(seed)
    lo, hi = np.log(base_range_per_minute[0]), np.log(base_range_per_minute[1])
    rows = []
    for k in range(functions):
        shape = DiurnalShape(
            base_per_minute=float(np.exp(rng.uniform(lo, hi))),
            amplitude=float(rng.uniform(0.2, 0.7)),
            peak_minute=int(rng.integers(10 * 60, 18 * 60)),
        )
        rows.append(
            FunctionTrace(
                owner=_hash(seed, "owner", k // 3),
                app=_hash(seed, "app", k // 2),
                function=_hash(seed, "function", k),
                trigger=TRIGGERS[int(rng.integers(len(TRIGGERS)))] if k % 2 else "http",
                counts_per_minute=minute_counts(shape, rng),
            )
        )
    return rows
