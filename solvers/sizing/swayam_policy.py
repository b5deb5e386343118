"""Swayam as an online autoscaling policy: one Swayam instance per frontend,
no coordination between them (swayam-middleware-2017-slides.txt, "Key idea
3: Swayam instance on every frontend").

At every tick each frontend f
1. predicts its local rate L'_f over the provisioning horizon from the
   arrivals it saw (``rate_prediction``) and takes L_f = F x L'_f;
2. computes n_f = min backends for rate U x L_f (``response_time``), with
   the service time refitted by maximum likelihood from recently completed
   requests once there are enough of them;
3. dispatches to the first n_f backends of the model's ordered list and
   has any of them that is cold provisioned (ready after the provisioning
   delay, which is why the rate is predicted that far ahead).
Backends beyond every frontend's n_f get no requests and return to the
global pool after the idle timeout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from optsched.sim.policy import Observation, ScalingDecision
from optsched.solvers.sizing.rate_prediction import LinearRatePredictor
from optsched.solvers.sizing.response_time import min_backends
from optsched.solvers.sizing.service_time import LogNormalServiceTime, fit_lognormal

# Rates are rounded up to a geometric grid with this step before sizing, so
# that the per-rate answers can be cached; rounding up keeps n conservative.
RATE_GRID_STEP = 1.01
MIN_RATE_PER_S = 1e-3


@dataclass(frozen=True)
class SwayamConfig:
    rt_max_s: float
    sl_min: float = 0.99
    burst_factor: float = 2.0
    provisioning_delay_s: float = 5.0
    idle_timeout_s: float = 30.0
    tick_s: float = 1.0
    window_s: int = 60  # least-squares window, one bin per second
    refit_every_s: float = 60.0
    min_fit_samples: int = 200
    min_backends: int = 1
    max_backends: int = 1000


@dataclass
class SwayamPolicy:
    cfg: SwayamConfig
    service: LogNormalServiceTime  # the offline profile until enough samples arrive
    name: str = "swayam"
    _cache: dict[float, int] = field(default_factory=dict)
    _last_fit_s: float = 0.0
    _frontends: int = 1

    def __post_init__(self) -> None:
        self.predictor = LinearRatePredictor(self.cfg.window_s, 1.0, self.cfg.provisioning_delay_s)

    @property
    def tick_s(self) -> float:
        return self.cfg.tick_s

    @property
    def idle_timeout_s(self) -> float | None:
        return self.cfg.idle_timeout_s

    def start(self, frontends: int, initial_backends: int) -> ScalingDecision:
        self._frontends = frontends
        return ScalingDecision((max(initial_backends, self.cfg.min_backends),) * frontends)

    def backends_for(self, global_rate_per_s: float) -> int:
        """Min backends at U x rate (rate rounded up to the grid), cached."""
        r = max(global_rate_per_s, MIN_RATE_PER_S)
        key = RATE_GRID_STEP ** math.ceil(math.log(r, RATE_GRID_STEP))
        if key not in self._cache:
            ans = min_backends(
                key * self.cfg.burst_factor,
                self.service,
                self.cfg.rt_max_s,
                self.cfg.sl_min,
                self.cfg.max_backends,
            )
            self._cache[key] = self.cfg.max_backends if ans is None else ans.backends
        return max(self._cache[key], self.cfg.min_backends)

    def _maybe_refit(self, obs: Observation) -> None:
        if obs.now_s - self._last_fit_s < self.cfg.refit_every_s:
            return
        if len(obs.recent_service_s) >= self.cfg.min_fit_samples:
            self.service = fit_lognormal(
                np.fromiter(obs.recent_service_s, float), self.cfg.min_fit_samples
            )
            self._cache.clear()
        self._last_fit_s = obs.now_s

    def decide(self, obs: Observation) -> ScalingDecision:
        self._maybe_refit(obs)
        if obs.counts_per_s.shape[1] < 2:
            return self._hold(obs)
        rates = self.predictor.predict_global(obs.counts_per_s, self._frontends)
        return ScalingDecision(tuple(self.backends_for(float(r)) for r in rates))

    def _hold(self, obs: Observation) -> ScalingDecision:
        """Before two seconds of arrivals exist, keep the pre-provisioned pool."""
        return ScalingDecision((max(obs.warm_backends, self.cfg.min_backends),) * self._frontends)
