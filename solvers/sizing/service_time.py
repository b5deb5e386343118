"""Service-time model: a log-normal distribution fitted by maximum likelihood.

Swayam observed that ML inference execution times vary little (fixed-size
feature vectors, input-independent control flow) and modelled them with
log-normal distributions (swayam-middleware-2017-slides.txt, "Determining
expected request execution times ... Modeled using log-normal distributions").

For samples x_1..x_k > 0 the maximum-likelihood estimates are
    mu_hat = mean(ln x_i),   sigma_hat^2 = mean((ln x_i - mu_hat)^2)
(the biased, 1/k variance is the MLE). Moments of S ~ LogNormal(mu, sigma):
    E[S] = exp(mu + sigma^2 / 2),   Cs^2 = Var[S] / E[S]^2 = exp(sigma^2) - 1.

An exponential service time is provided too: it turns the response-time
model into M/M/n, whose closed forms the tests check the numerics against.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import integrate, special

from optsched.errors import DomainError
from optsched.problems.sizing import MIN_SERVICE_SAMPLES

# A fit with sigma = 0 would make the CDF a step; samples that are all equal
# (a timer with coarse resolution) get this spread instead, 0.1 % of the mean.
MIN_SIGMA_LOG = 1e-3
# The standard normal mass beyond 12 sigma is below 1e-32: integrating
# z over [-12, 12] loses nothing a double can hold.
Z_TAIL = 12.0
QUAD_EPSABS = 1e-10
QUAD_LIMIT = 200
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class ServiceDistribution(Protocol):
    """What the response-time model needs of a service-time distribution."""

    @property
    def mean_s(self) -> float: ...

    @property
    def scv(self) -> float: ...

    def cdf(self, x_s: float) -> float: ...

    def expect_below(self, g: Callable[[float], float], upper_s: float) -> float: ...


@dataclass(frozen=True)
class LogNormalServiceTime:
    """S ~ LogNormal(mu_log, sigma_log), S in seconds."""

    mu_log: float
    sigma_log: float

    @property
    def mean_s(self) -> float:
        return math.exp(self.mu_log + self.sigma_log**2 / 2)

    @property
    def scv(self) -> float:
        """Squared coefficient of variation Cs^2 = exp(sigma^2) - 1."""
        return math.expm1(self.sigma_log**2)

    def cdf(self, x_s: float) -> float:
        """P(S <= x) = Phi((ln x - mu) / sigma)."""
        if x_s <= 0:
            return 0.0
        return float(special.ndtr((math.log(x_s) - self.mu_log) / self.sigma_log))

    def quantile(self, p: float) -> float:
        return math.exp(self.mu_log + self.sigma_log * float(special.ndtri(p)))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(self.mu_log, self.sigma_log, size)

    def expect_below(self, g: Callable[[float], float], upper_s: float) -> float:
        """E[g(S); S <= upper] = integral_0^upper g(s) f_S(s) ds, computed in
        z = (ln s - mu) / sigma as integral phi(z) g(exp(mu + sigma z)) dz,
        which is smooth for any sigma (in s it is a spike when sigma is small)."""
        if upper_s <= 0:
            return 0.0
        z_hi = min((math.log(upper_s) - self.mu_log) / self.sigma_log, Z_TAIL)
        if z_hi <= -Z_TAIL:
            return 0.0
        mu, sigma = self.mu_log, self.sigma_log

        def integrand(z: float) -> float:
            return _INV_SQRT_2PI * math.exp(-0.5 * z * z) * g(math.exp(mu + sigma * z))

        value, _ = integrate.quad(integrand, -Z_TAIL, z_hi, epsabs=QUAD_EPSABS, limit=QUAD_LIMIT)
        return float(value)

    @classmethod
    def from_mean(cls, mean_s: float, sigma_log: float) -> LogNormalServiceTime:
        """The log-normal with the given mean: mu = ln(mean) - sigma^2 / 2."""
        return cls(math.log(mean_s) - sigma_log**2 / 2, sigma_log)


@dataclass(frozen=True)
class ExponentialServiceTime:
    """S ~ Exp(rate 1 / mean_s): Cs^2 = 1, the M/M/n case."""

    mean_s: float

    @property
    def scv(self) -> float:
        return 1.0

    def cdf(self, x_s: float) -> float:
        return -math.expm1(-x_s / self.mean_s) if x_s > 0 else 0.0

    def expect_below(self, g: Callable[[float], float], upper_s: float) -> float:
        """integral_0^upper g(s) e^(-s / mean) / mean ds, by adaptive quadrature."""
        if upper_s <= 0:
            return 0.0
        rate = 1.0 / self.mean_s

        def integrand(s: float) -> float:
            return rate * math.exp(-rate * s) * g(s)

        value, _ = integrate.quad(integrand, 0.0, upper_s, epsabs=QUAD_EPSABS, limit=QUAD_LIMIT)
        return float(value)


def fit_lognormal(
    samples_s: Sequence[float] | np.ndarray, min_samples: int = MIN_SERVICE_SAMPLES
) -> LogNormalServiceTime:
    """Maximum-likelihood log-normal fit of positive durations (seconds);
    refuses fewer than ``min_samples`` samples."""
    x = np.asarray(samples_s, dtype=float)
    if x.size < min_samples:
        raise DomainError("service_times", f"needs at least {min_samples} samples, got {x.size}")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise DomainError("service_times", "every sample must be a positive finite duration")
    logs = np.log(x)
    mu = float(logs.mean())
    sigma = math.sqrt(float(np.mean((logs - mu) ** 2)))
    return LogNormalServiceTime(mu, max(sigma, MIN_SIGMA_LOG))
