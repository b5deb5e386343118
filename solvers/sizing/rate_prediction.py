"""Rate prediction on a frontend (Swayam, swayam-middleware-2017-slides.txt:
"Each Swayam instance predicts L' for near future; given F, computes
L = F x L'", "in the near future, to account for high provisioning times").

A frontend sees a share of its model's requests (requests are spread evenly
over the F frontends), counts them in bins of ``bin_s`` seconds over a recent
window, and fits the local rate r(t) = alpha + beta t by least squares:

    minimize sum_i (c_i / bin_s - alpha - beta t_i)^2,  t_i = bin centres (t = 0 now).

The slope is kept only where the window has at least ``MIN_SLOPE_BINS`` bins
and the slope is significant, |beta| >= z SE(beta) with
SE(beta) = s / sqrt(sum (t_i - t_mean)^2) and s^2 the residual variance over
k - 2 degrees of freedom; otherwise the least-squares constant (the window
mean) is used. The fitted line's value at the window's end has four times
the variance of the window mean, so extrapolating noise would inflate the
estimate, and with F frontends each acting on its own estimate the pool
follows the largest of them.

The local prediction over the provisioning horizon H is the largest fitted
rate on [0, H]; the line is linear, so that is max(r(0), r(H)), clipped at 0.
Backends provisioned now are ready at H, so the pool is sized for the rate it
will serve then, and not shrunk below the rate it serves now. The global
estimate is L = F x L'.

The largest of F estimates (``max_of``): the pool is sized by whichever
frontend asks for the most backends, i.e. by max_f L_f, and the max of F
unbiased noisy estimates is biased upwards. With ``max_of = F`` two
corrections keep that max honest:

* the slope test is made family-wise: z = Phi^-1(1 - a / (2F)) with a the
  two-sided level of ``slope_z`` (Bonferroni), so that a chance slope at
  any of the F frontends is as rare as at one (z = 2.73 for F = 8);
* each frontend subtracts e_F x SE from its estimate, e_F = E[max of F
  standard normals] (1.42 for F = 8) and SE the standard error of the
  value it uses (window mean: s / sqrt(k); line at now: s sqrt(1/k +
  t_mean^2 / Sxx)), so that the largest of the F estimates is unbiased
  for the rate rather than about e_F standard errors above it.
Measured in ``optsched bench autoscale`` (per-frontend estimates against
the pooled count of all frontends): see the sizing notes in the issue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from optsched.errors import DomainError

# Two standard errors: a slope this far from zero arises by chance in about
# 5 % of flat windows (normal approximation).
SLOPE_Z = 2.0
# With fewer bins than this (at start-up) no slope is fitted: two or three
# seconds of counts give a slope whose noise, times the horizon, would size
# the pool for a rate many times the real one.
MIN_SLOPE_BINS = 10


@dataclass(frozen=True)
class LinearRatePredictor:
    """Least-squares trend over the last ``window_bins`` bins of ``bin_s``."""

    window_bins: int
    bin_s: float
    horizon_s: float
    slope_z: float = SLOPE_Z
    max_of: int = 1  # independent estimates whose largest sizes the pool

    def __post_init__(self) -> None:
        if self.window_bins < 2:
            raise DomainError(
                "window_bins", f"a line needs at least 2 bins, got {self.window_bins}"
            )
        if self.bin_s <= 0:
            raise DomainError("bin_s", f"must be positive, got {self.bin_s}")
        if self.horizon_s < 0:
            raise DomainError("horizon_s", f"must be non-negative, got {self.horizon_s}")
        if self.max_of < 1:
            raise DomainError("max_of", f"must be at least 1, got {self.max_of}")

    def predict_local(self, counts: np.ndarray) -> np.ndarray:
        """Predicted local rate per row of ``counts`` (frontends x bins, the
        last column the most recent bin), in requests per second. Only the
        last ``window_bins`` bins are used; fewer (at start-up) are fine."""
        c = np.atleast_2d(np.asarray(counts, dtype=float))[:, -self.window_bins :]
        if c.shape[1] < 2:
            raise DomainError("counts", f"a line needs at least 2 bins, got {c.shape[1]}")
        k = c.shape[1]
        y = (c / self.bin_s).T  # bins x frontends
        if k < MIN_SLOPE_BINS:
            return np.clip(y.mean(axis=0), 0.0, None)
        t = _centres(k, self.bin_s)
        alpha, beta = _pinv_design(k, self.bin_s) @ y
        sxx = float(((t - t.mean()) ** 2).sum())
        resid = y - (alpha[None, :] + beta[None, :] * t[:, None])
        s = np.sqrt((resid**2).sum(axis=0) / (k - 2))
        flat = np.abs(beta) < family_z(self.slope_z, self.max_of) * s / math.sqrt(sxx)
        alpha = np.where(flat, y.mean(axis=0), alpha)
        beta = np.where(flat, 0.0, beta)
        se_now = s * np.where(flat, math.sqrt(1.0 / k), math.sqrt(1.0 / k + t.mean() ** 2 / sxx))
        now = alpha - expected_max_normal(self.max_of) * se_now
        ahead = now + beta * self.horizon_s
        return np.clip(np.maximum(now, ahead), 0.0, None)

    def predict_global(self, counts: np.ndarray, frontends: int) -> np.ndarray:
        """L = F x L' for each frontend's local counts."""
        if frontends < 1:
            raise DomainError("frontends", f"must be at least 1, got {frontends}")
        return frontends * self.predict_local(counts)


@lru_cache(maxsize=64)
def family_z(z: float, tests: int) -> float:
    """Bonferroni: the z whose two-sided level over ``tests`` tests equals
    the level of z over one."""
    level = 2.0 * (1.0 - NormalDist().cdf(z))
    return NormalDist().inv_cdf(1.0 - level / (2.0 * tests))


@lru_cache(maxsize=64)
def expected_max_normal(n: int) -> float:
    """E[max of n independent standard normals] (0 for n = 1), by the
    integral of x n phi(x) Phi(x)^(n-1) on a fine grid."""
    if n == 1:
        return 0.0
    x = np.linspace(-8.0, 8.0, 4001)
    phi = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    big_phi = 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    dx = float(x[1] - x[0])
    return float(np.sum(x * n * phi * big_phi ** (n - 1)) * dx)


@lru_cache(maxsize=64)
def _pinv_design(bins: int, bin_s: float) -> np.ndarray:
    """Pseudo-inverse of the design [1, t_i] (t_i the bin centres, now = 0):
    its rows map the binned rates to the least-squares alpha and beta."""
    t = _centres(bins, bin_s)
    return np.linalg.pinv(np.column_stack([np.ones_like(t), t]))


def _centres(bins: int, bin_s: float) -> np.ndarray:
    """Bin centres in seconds relative to now (all negative)."""
    return (np.arange(bins) - bins + 0.5) * bin_s
