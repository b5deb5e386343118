"""Response-time model: M/G/n with the Allen-Cunneen correction, convolved
with the service time (Swayam, swayam-middleware-2017-slides.txt, "What is the
minimum # backends required for SLA compliance?").

Load-balancing assumption: a request is served at once by an idle backend of
its model when one exists, and otherwise waits in FIFO order for the first
backend to free up (work-conserving join-the-idle-backend dispatch over the
model's n in-use backends). The simulator in :mod:`optsched.sim` dispatches
exactly this way.

With arrival rate lambda (Poisson, Ca^2 = 1), service S with mean 1/mu and
squared coefficient of variation Cs^2, offered load a = lambda / mu, n > a:

* P(wait > 0) = C(n, a), the Erlang-C formula, computed from the Erlang-B
  recursion B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)) and
  C = B / (1 - (a / n) (1 - B)).
* Allen-Cunneen: E[Wq] ~= C / (n mu - lambda) * (Ca^2 + Cs^2) / 2. A waiting
  request's wait is taken as exponential with that conditional mean, i.e.
  rate theta = 2 (n mu - lambda) / (1 + Cs^2); for Cs^2 = 1 this is the exact
  M/M/n FCFS waiting-time distribution.
* Response time R = W + S with W independent of S:
      P(R <= x) = (1 - C) F_S(x) + C integral_0^x F_S(x - w) theta e^(-theta w) dw
                = F_S(x) - C integral_0^x f_S(s) e^(-theta (x - s)) ds,
  the last integral evaluated numerically (``ServiceDistribution.expect_below``).

P(R <= x) increases with n (C falls and theta rises), so the minimum n with
P >= SL_min is found by searching upward from the stability bound
n_0 = floor(a) + 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from optsched.errors import DomainError
from optsched.solvers.sizing.service_time import ServiceDistribution

ARRIVAL_SCV = 1.0  # Poisson arrivals: Ca^2 = 1


@dataclass(frozen=True)
class WaitModel:
    """W = 0 with probability 1 - p_wait, else W ~ Exp(decay_per_s)."""

    p_wait: float
    decay_per_s: float

    def tail(self, t_s: float) -> float:
        """P(W > t) = p_wait e^(-decay t)."""
        return self.p_wait * math.exp(-self.decay_per_s * max(t_s, 0.0))

    @property
    def mean_s(self) -> float:
        return self.p_wait / self.decay_per_s


@dataclass(frozen=True)
class SizingAnswer:
    backends: int
    compliance: float  # predicted P(R <= RT_max) at the answer


def stability_bound(arrival_rate_per_s: float, mean_service_s: float) -> int:
    """The fewest backends with a stable queue: floor(a) + 1, a = lambda E[S]."""
    return math.floor(arrival_rate_per_s * mean_service_s) + 1


def erlang_c(n: int, offered_load: float) -> float:
    """P(wait > 0) in M/M/n with offered load a < n (Erlang-B recursion)."""
    if n < 1:
        raise DomainError("backends", f"must be at least 1, got {n}")
    if offered_load < 0:
        raise DomainError("offered_load", f"must be non-negative, got {offered_load}")
    if offered_load >= n:
        return 1.0
    b = 1.0
    for k in range(1, n + 1):
        b = offered_load * b / (k + offered_load * b)
    return b / (1.0 - (offered_load / n) * (1.0 - b))


def allen_cunneen_wait(
    n: int, arrival_rate_per_s: float, service: ServiceDistribution
) -> WaitModel:
    """The waiting-time model of the module docstring for n backends."""
    mu = 1.0 / service.mean_s
    a = arrival_rate_per_s / mu
    if a >= n:
        return WaitModel(1.0, 0.0)
    slack_per_s = n * mu - arrival_rate_per_s
    return WaitModel(erlang_c(n, a), 2.0 * slack_per_s / (ARRIVAL_SCV + service.scv))


def p_response_within(
    n: int, arrival_rate_per_s: float, service: ServiceDistribution, rt_max_s: float
) -> float:
    """P(W + S <= rt_max) for n backends; 0 when the queue is unstable."""
    wait = allen_cunneen_wait(n, arrival_rate_per_s, service)
    if wait.decay_per_s <= 0:
        return 0.0
    f_x = service.cdf(rt_max_s)
    if wait.p_wait == 0.0:
        return f_x
    theta = wait.decay_per_s
    conv = service.expect_below(lambda s: math.exp(-theta * (rt_max_s - s)), rt_max_s)
    return min(1.0, max(0.0, f_x - wait.p_wait * conv))


def min_backends(
    arrival_rate_per_s: float,
    service: ServiceDistribution,
    rt_max_s: float,
    sl_min: float,
    max_backends: int,
) -> SizingAnswer | None:
    """The smallest n in [stability bound, max_backends] with
    P(R <= rt_max) >= sl_min, or None when even max_backends falls short
    (including when rt_max is so tight that F_S(rt_max) < sl_min)."""
    if arrival_rate_per_s < 0 or not math.isfinite(arrival_rate_per_s):
        raise DomainError(
            "arrival_rate_per_s", f"must be a non-negative rate, got {arrival_rate_per_s}"
        )
    if not 0.0 < sl_min < 1.0:
        raise DomainError("sl_min", f"must lie strictly between 0 and 1, got {sl_min}")
    if service.cdf(rt_max_s) < sl_min:
        return None  # even with no waiting at all the service time alone misses the SLA
    n = stability_bound(arrival_rate_per_s, service.mean_s)
    while n <= max_backends:
        p = p_response_within(n, arrival_rate_per_s, service, rt_max_s)
        if p >= sl_min:
            return SizingAnswer(n, p)
        n += 1
    return None
