"""Request arrival processes for the MIAD simulator: Poisson, trace-driven
(counts per interval, as in the Azure Functions per-minute invocation
traces μ-Serve replays), and a bursty two-state Markov-modulated Poisson
process (MMPP) that produces such counts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from optsched.errors import DomainError


def poisson_arrivals(rate_per_s: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted arrival times (s) of a Poisson process on [0, duration_s)."""
    if rate_per_s < 0 or duration_s <= 0:
        raise DomainError("rate_per_s", "rate must be >= 0 and duration > 0")
    n = rng.poisson(rate_per_s * duration_s)
    return np.sort(rng.uniform(0.0, duration_s, size=n))


def arrivals_from_counts(
    counts: Sequence[int] | np.ndarray,
    interval_s: float,
    rng: np.random.Generator,
    scale: float = 1.0,
) -> np.ndarray:
    """Trace-driven arrivals: ``counts[k] * scale`` requests (rounded) spread
    uniformly at random over interval ``k`` of length ``interval_s``."""
    if interval_s <= 0:
        raise DomainError("interval_s", "must be > 0")
    parts = []
    for k, c in enumerate(counts):
        if c < 0:
            raise DomainError(f"counts[{k}]", "must be >= 0")
        n = int(round(c * scale))
        parts.append(rng.uniform(k * interval_s, (k + 1) * interval_s, size=n))
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0)


def mmpp_counts(
    duration_s: int,
    base_rate: float,
    burst_rate: float,
    mean_calm_s: float,
    mean_burst_s: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Per-second request counts of a two-state MMPP: calm at ``base_rate``,
    bursts at ``burst_rate``, exponential sojourns with the given means."""
    counts = np.zeros(duration_s, dtype=np.int64)
    t, burst = 0.0, False
    while t < duration_s:
        stay = rng.exponential(mean_burst_s if burst else mean_calm_s)
        lo, hi = int(t), min(duration_s, int(np.ceil(t + stay)))
        rate = burst_rate if burst else base_rate
        counts[lo:hi] = rng.poisson(rate, size=hi - lo)
        t += stay
        burst = not burst
    return counts


def load_counts(path: str | Path) -> list[int]:
    """One count per line, or the last column of a CSV line (a header line,
    blank lines and '#' comments are skipped)."""
    out = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            out.append(int(float(line.split(",")[-1])))
        except ValueError:
            if not out and n == 1:
                continue  # a header line
            raise DomainError(f"{path}:{n}", f"not a count: {line!r}") from None
    return out
