"""Workload builders shared by the sizing tests."""

import numpy as np

from optsched.sim.simulator import Workload
from optsched.solvers.sizing.service_time import LogNormalServiceTime


def poisson_workload(
    rate_of_t, duration_s: float, mean_s: float, seed: int, frontends: int = 8
) -> Workload:
    """Arrivals by thinning a Poisson process against rate_of_t (per second)."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(0, duration_s, 1000)
    peak = float(np.max(rate_of_t(grid)))
    t = np.sort(rng.uniform(0, duration_s, rng.poisson(peak * duration_s)))
    t = t[rng.random(t.size) < rate_of_t(t) / peak]
    service = LogNormalServiceTime.from_mean(mean_s, 0.25)
    return Workload(t, service.sample(rng, t.size), rng.integers(0, frontends, t.size), duration_s)
