"""SLA compliance per window and the summary of one simulated run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def window_compliance(
    arrivals_s: np.ndarray,
    response_s: np.ndarray,
    rt_max_s: float,
    window_s: float,
    duration_s: float,
) -> np.ndarray:
    """Share of requests with response time <= rt_max in each window
    [k w, (k+1) w) of arrival time; NaN for a window without requests."""
    windows = max(1, int(np.ceil(duration_s / window_s)))
    idx = np.minimum((arrivals_s // window_s).astype(int), windows - 1)
    total = np.bincount(idx, minlength=windows).astype(float)
    good = np.bincount(idx, weights=(response_s <= rt_max_s).astype(float), minlength=windows)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, good / np.maximum(total, 1.0), np.nan)


def share_of_windows_met(fractions: np.ndarray, sl_min: float) -> float:
    """Windows whose share within RT_max is at least SL_min, among windows
    with requests (an empty window has nothing to violate)."""
    busy = ~np.isnan(fractions)
    if not busy.any():
        return 1.0
    return float(np.mean(fractions[busy] >= sl_min))


@dataclass(frozen=True)
class ModelRun:
    """One policy on one model's workload."""

    policy: str
    backend_seconds: float
    response_s: np.ndarray
    window_fraction: np.ndarray
    windows_met: float
    requests_within: float  # share of all requests within RT_max
    timeline_s: np.ndarray  # sample times
    timeline_backends: np.ndarray  # active (provisioning + warm) backends at those times
    activations: int = 0
