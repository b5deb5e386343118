"""Rate prediction on a frontend (Swayam, swayam-middleware-2017-slides.txt:
"Each Swayam instance predicts L' for near future; given F, computes
L = F x L'", "in the near future, to account for high provisioning times").

A frontend sees a share of its model's requests (requests are spread evenly
over the F frontends), counts them in bins of ``bin_s`` seconds over a recent
window, and fits the local rate r(t) = alpha + beta t by least squares:

    minimize sum_i (c_i / bin_s - alpha - beta t_i)^2,  t_i = bin centres (t = 0 now).

The local prediction over the provisioning horizon H is the largest fitted
rate on [0, H]; the line is linear, so that is max(r(0), r(H)), clipped at 0.
Backends provisioned now are ready at H, so the pool is sized for the rate it
will serve then, and not shrunk below the rate it serves now. The global
estimate is L = F x L'.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from optsched.errors import DomainError


@dataclass(frozen=True)
class LinearRatePredictor:
    """Least-squares trend over the last ``window_bins`` bins of ``bin_s``."""

    window_bins: int
    bin_s: float
    horizon_s: float

    def __post_init__(self) -> None:
        if self.window_bins < 2:
            raise DomainError(
                "window_bins", f"a line needs at least 2 bins, got {self.window_bins}"
            )
        if self.bin_s <= 0:
            raise DomainError("bin_s", f"must be positive, got {self.bin_s}")
        if self.horizon_s < 0:
            raise DomainError("horizon_s", f"must be non-negative, got {self.horizon_s}")

    def predict_local(self, counts: np.ndarray) -> np.ndarray:
        """Predicted local rate per row of ``counts`` (frontends x bins, the
        last column the most recent bin), in requests per second. Only the
        last ``window_bins`` bins are used; fewer (at start-up) are fine."""
        c = np.atleast_2d(np.asarray(counts, dtype=float))[:, -self.window_bins :]
        if c.shape[1] < 2:
            raise DomainError("counts", f"a line needs at least 2 bins, got {c.shape[1]}")
        coef = _pinv_design(c.shape[1], self.bin_s) @ (c / self.bin_s).T  # 2 x frontends
        now = coef[0]
        ahead = coef[0] + coef[1] * self.horizon_s
        return np.clip(np.maximum(now, ahead), 0.0, None)

    def predict_global(self, counts: np.ndarray, frontends: int) -> np.ndarray:
        """L = F x L' for each frontend's local counts."""
        if frontends < 1:
            raise DomainError("frontends", f"must be at least 1, got {frontends}")
        return frontends * self.predict_local(counts)


@lru_cache(maxsize=64)
def _pinv_design(bins: int, bin_s: float) -> np.ndarray:
    """Pseudo-inverse of the design [1, t_i] (t_i the bin centres, now = 0):
    its rows map the binned rates to the least-squares alpha and beta."""
    t = (np.arange(bins) - bins + 0.5) * bin_s
    return np.linalg.pinv(np.column_stack([np.ones_like(t), t]))
