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

The burst threshold U ("tolerate increase in request rate by up to 100 %",
slides, "SLA configuration") is provided in one of two ways (``burst_mode``):

* ``in-use`` (the issue's wording, "for n backends, arrival rate L x U"):
  every frontend dispatches to n(U x L_f) backends.
* ``warm-ahead``: frontend f dispatches to n(L_f), or to n(fast_f) when the
  rate of its last ``burst_detect_s`` seconds (fast_f) is higher, capped at
  n(U x L_f); the pool is held at max_f n(U x L_f) with the backends beyond
  the in-use ones kept warm not-in-use (provisioned ahead, slides: "if load
  increases, new backends are set up in advance"), so a step to U x L is
  absorbed without waiting for a provisioning delay.

A warm backend holds the model whether or not a frontend sends it requests,
so both modes pay for n(U x L) warm backends: they cost the same, and
``warm-ahead`` only adds the detection lag before the reserve is used.
Either way the cost has a floor: n(U x L) >= floor(U x L x E[S]) + 1 >
U x L x E[S], so backend-seconds exceed U times the work (ClairA1's cost)
in every reading that absorbs a step to U x L without a provisioning
delay. ClairA depends on neither U nor SL_min (slides), so with U = 2
Swayam cannot cost less than ClairA2 wherever ClairA2 < 2 x ClairA1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from optsched.errors import DomainError
from optsched.sim.policy import Observation, ScalingDecision
from optsched.solvers.sizing.rate_prediction import LinearRatePredictor
from optsched.solvers.sizing.response_time import min_backends
from optsched.solvers.sizing.service_time import LogNormalServiceTime, fit_lognormal

# Rates are rounded up to a geometric grid with this step before sizing, so
# that the per-rate answers can be cached; rounding up keeps n conservative.
RATE_GRID_STEP = 1.01
MIN_RATE_PER_S = 1e-3
# Lazy scale-in: an idle backend is kept for twice the provisioning delay.
# Keeping it for one delay is the ski-rental break-even (releasing it and
# provisioning it again costs one delay of backend time); the second delay
# pays for the SLA risk of a backend that is not there when a burst comes.
PROVISIONING_DELAY_S = 5.0  # "a few seconds" (slides: Provisioning >> ExecutionTime)
IDLE_TIMEOUT_S = 2 * PROVISIONING_DELAY_S
# The least-squares window: long enough that F = 8 frontends, each seeing an
# eighth of the requests, estimate L within ~10 % at a few requests per
# second; trends show through the slope test of ``rate_prediction``.
RATE_WINDOW_S = 300
BURST_IN_USE, BURST_WARM_AHEAD = "in-use", "warm-ahead"
BURST_MODES = (BURST_IN_USE, BURST_WARM_AHEAD)
# warm-ahead: the short window whose rate promotes reserve backends to in-use
# (the last whole second: the reserve is paid for either way, so promoting on
# a noisy estimate costs nothing, and every second of lag is overload).
BURST_DETECT_S = 1


@dataclass(frozen=True)
class SwayamConfig:
    rt_max_s: float
    sl_min: float = 0.99
    burst_factor: float = 2.0
    burst_mode: str = BURST_IN_USE
    burst_detect_s: int = BURST_DETECT_S
    # Correct each frontend's estimate for the pool following the largest of
    # F of them (``rate_prediction``, "The largest of F estimates").
    debias_frontends: bool = True
    provisioning_delay_s: float = PROVISIONING_DELAY_S
    idle_timeout_s: float = IDLE_TIMEOUT_S
    tick_s: float = 1.0
    window_s: int = RATE_WINDOW_S  # least-squares window, one bin per second
    refit_every_s: float = 60.0
    min_fit_samples: int = 200
    min_backends: int = 1
    max_backends: int = 1000

    def __post_init__(self) -> None:
        if self.burst_mode not in BURST_MODES:
            raise DomainError(
                "burst_mode", f"must be one of {BURST_MODES}, got {self.burst_mode!r}"
            )
        if self.burst_factor < 1:
            raise DomainError("burst_factor", f"must be at least 1, got {self.burst_factor}")
        if self.burst_detect_s < 1:
            raise DomainError("burst_detect_s", f"must be at least 1, got {self.burst_detect_s}")


@dataclass
class SwayamPolicy:
    cfg: SwayamConfig
    service: LogNormalServiceTime  # the offline profile until enough samples arrive
    name: str = "swayam"
    _cache: dict[tuple[float, float], int] = field(default_factory=dict)
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
        self.predictor = LinearRatePredictor(
            self.cfg.window_s,
            1.0,
            self.cfg.provisioning_delay_s,
            max_of=frontends if self.cfg.debias_frontends else 1,
        )
        return ScalingDecision((max(initial_backends, self.cfg.min_backends),) * frontends)

    def backends_for(self, global_rate_per_s: float, factor: float | None = None) -> int:
        """Min backends at factor x rate (default factor U; the rate rounded
        up to the grid), cached."""
        r = max(global_rate_per_s, MIN_RATE_PER_S)
        u = self.cfg.burst_factor if factor is None else factor
        key = (RATE_GRID_STEP ** math.ceil(math.log(r, RATE_GRID_STEP)), u)
        if key not in self._cache:
            ans = min_backends(
                key[0] * u,
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
        if self.cfg.burst_mode == BURST_IN_USE:
            return ScalingDecision(tuple(self.backends_for(float(r)) for r in rates))
        return self._warm_ahead(obs, rates)

    def _warm_ahead(self, obs: Observation, rates: np.ndarray) -> ScalingDecision:
        """In use: n(max(L_f, fast_f)) capped at n(U L_f); held: max n(U L_f)."""
        recent = obs.counts_per_s[:, -self.cfg.burst_detect_s :]
        fast = self._frontends * recent.mean(axis=1)
        ceiling = [self.backends_for(float(r)) for r in rates]
        in_use = tuple(
            min(self.backends_for(max(float(r), float(q)), 1.0), c)
            for r, q, c in zip(rates, fast, ceiling, strict=True)
        )
        return ScalingDecision(in_use, reserve=max(ceiling) - max(in_use))

    def _hold(self, obs: Observation) -> ScalingDecision:
        """Before two seconds of arrivals exist, keep the pre-provisioned pool."""
        return ScalingDecision((max(obs.warm_backends, self.cfg.min_backends),) * self._frontends)
