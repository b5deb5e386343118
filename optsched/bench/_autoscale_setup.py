"""Workloads and policies of the ``autoscale`` suite (Swayam's setup,
swayam-middleware-2017-slides.txt, "Evaluation setup" and "SLA configuration
for each model": 15 models, 8 frontends, RT_max = 5 x mean computation time,
SL_min = 99 %, U = 2, 5 pre-provisioned backends)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optsched.datasets.azure_functions import (
    SECONDS_PER_MINUTE,
    FunctionTrace,
    arrivals_from_counts,
    read_invocations_csv,
)
from optsched.datasets.synthetic_invocations import synthetic_day
from optsched.errors import DomainError
from optsched.sim.metrics import ModelRun
from optsched.sim.simulator import SimConfig, Workload, simulate
from optsched.solvers.sizing.clairvoyant import ClairvoyantConfig, clairvoyant
from optsched.solvers.sizing.hpa import HpaPolicy
from optsched.solvers.sizing.response_time import min_backends, p_response_within
from optsched.solvers.sizing.service_time import LogNormalServiceTime, fit_lognormal
from optsched.solvers.sizing.static_pool import StaticPolicy
from optsched.solvers.sizing.swayam_policy import (
    BURST_IN_USE,
    BURST_WARM_AHEAD,
    SwayamConfig,
    SwayamPolicy,
)

RT_MAX_OVER_MEAN = 5.0  # RT_max = 5C (slides)
SL_MIN = 0.99  # slides
BURST_FACTOR = 2.0  # U = 2x (slides)
INITIAL_BACKENDS = 5  # "Initially, 5 pre-provisioned backends" (slides)
FRONTENDS = 8  # slides
MEAN_SERVICE_RANGE_MS = (10.0, 500.0)  # "~10 ms to 500 ms" (slides)
SIGMA_LOG_RANGE = (0.1, 0.4)  # "variation is low" (slides); the values are this suite's choice
PROFILE_SAMPLES = 500  # offline profiling run that seeds each model's service-time fit
MAX_BACKENDS = 1000


@dataclass(frozen=True)
class ModelSetup:
    name: str
    service: LogNormalServiceTime
    workload: Workload
    profile: LogNormalServiceTime

    @property
    def rt_max_s(self) -> float:
        return RT_MAX_OVER_MEAN * self.service.mean_s

    @property
    def offered_load(self) -> float:
        return len(self.workload.arrivals_s) / self.workload.duration_s * self.service.mean_s


@dataclass(frozen=True)
class SuiteConfig:
    models: int
    duration_min: int
    start_minute: int
    seed: int
    max_rate_per_s: float
    load_range_erlangs: tuple[float, float]
    provisioning_delay_s: float
    idle_timeout_s: float
    hpa_target: float
    window_s: float
    trace: str | None = None
    burst_u: float = BURST_FACTOR
    burst_mode: str = BURST_IN_USE
    ablation: bool = False


def _rows(cfg: SuiteConfig) -> list[FunctionTrace]:
    if cfg.trace is None:
        return synthetic_day(cfg.models, cfg.seed)
    rows = sorted(read_invocations_csv(cfg.trace), key=lambda r: -r.total)[: cfg.models]
    if len(rows) < cfg.models:
        raise DomainError("trace", f"needs at least {cfg.models} functions, has {len(rows)}")
    return rows


def build_models(cfg: SuiteConfig) -> list[ModelSetup]:
    """One model per trace row: a mean service time spaced geometrically over
    10-500 ms, a target mean offered load (Erlangs, capped by max_rate_per_s),
    and the row's minute counts scaled to it over the chosen minutes."""
    rng = np.random.default_rng(cfg.seed)
    means_s = np.geomspace(*MEAN_SERVICE_RANGE_MS, cfg.models) / 1000.0
    out = []
    for k, row in enumerate(_rows(cfg)):
        service = LogNormalServiceTime.from_mean(
            float(means_s[k]), float(rng.uniform(*SIGMA_LOG_RANGE))
        )
        counts = row.counts_per_minute[
            cfg.start_minute : cfg.start_minute + cfg.duration_min
        ].astype(float)
        load = math.exp(rng.uniform(*np.log(cfg.load_range_erlangs)))
        rate = min(load / service.mean_s, cfg.max_rate_per_s)
        scale = rate * SECONDS_PER_MINUTE / max(counts.mean(), 1e-9)
        arrivals = arrivals_from_counts(rng.poisson(counts * scale), rng)
        w = Workload(
            arrivals,
            service.sample(rng, arrivals.size),
            rng.integers(0, FRONTENDS, arrivals.size),
            cfg.duration_min * SECONDS_PER_MINUTE,
        )
        profile = fit_lognormal(service.sample(rng, PROFILE_SAMPLES))
        out.append(ModelSetup(f"m{k:02d}-{service.mean_s * 1000:.0f}ms", service, w, profile))
    return out


def sim_config(m: ModelSetup, cfg: SuiteConfig, initial: int = INITIAL_BACKENDS) -> SimConfig:
    return SimConfig(FRONTENDS, cfg.provisioning_delay_s, initial, m.rt_max_s, SL_MIN, cfg.window_s)


def peak_backends(m: ModelSetup, cfg: SuiteConfig) -> int:
    """Static pool size: the model's answer at U x the peak one-minute rate."""
    minute = (m.workload.arrivals_s // SECONDS_PER_MINUTE).astype(int)
    peak = float(np.bincount(minute).max()) / SECONDS_PER_MINUTE if minute.size else 0.0
    ans = min_backends(cfg.burst_u * peak, m.profile, m.rt_max_s, SL_MIN, MAX_BACKENDS)
    return MAX_BACKENDS if ans is None else ans.backends


def run_policies(m: ModelSetup, cfg: SuiteConfig) -> dict[str, ModelRun]:
    w = m.workload
    runs: dict[str, ModelRun] = {}
    for name, setup_s, timeout_s in (
        ("ClairA1", 0.0, 0.0),
        ("ClairA2", cfg.provisioning_delay_s, cfg.idle_timeout_s),
    ):
        cc = ClairvoyantConfig(name, setup_s, timeout_s, INITIAL_BACKENDS)
        runs[name] = clairvoyant(
            w.arrivals_s, w.service_s, m.rt_max_s, cc, w.duration_s, SL_MIN, cfg.window_s
        )
    runs["Swayam"] = _swayam(m, cfg, cfg.burst_u, cfg.burst_mode)
    if cfg.ablation:
        for label, (u, mode, debias) in swayam_variants(cfg).items():
            runs[label] = _swayam(m, cfg, u, mode, debias)
    runs["HPA"] = simulate(
        w,
        HpaPolicy(target_utilization=cfg.hpa_target, max_replicas=MAX_BACKENDS),
        sim_config(m, cfg),
    )
    n_static = peak_backends(m, cfg)
    runs["Static"] = simulate(w, StaticPolicy(n_static), sim_config(m, cfg, initial=n_static))
    return runs


def swayam_variants(cfg: SuiteConfig) -> dict[str, tuple[float, str, bool]]:
    """The ablation's Swayam variants besides the main one, as (U, burst
    mode, debias): the other burst mode; the main one without the
    largest-of-F correction of the rate estimates; U = 1 (no burst margin)."""
    other = BURST_WARM_AHEAD if cfg.burst_mode == BURST_IN_USE else BURST_IN_USE
    u = cfg.burst_u
    return {
        f"Swayam U={u:g} {other}": (u, other, True),
        f"Swayam U={u:g} {cfg.burst_mode} no-debias": (u, cfg.burst_mode, False),
        "Swayam U=1": (1.0, BURST_IN_USE, True),
    }


def _swayam(
    m: ModelSetup, cfg: SuiteConfig, burst_u: float, mode: str, debias: bool = True
) -> ModelRun:
    policy = SwayamPolicy(
        SwayamConfig(
            rt_max_s=m.rt_max_s,
            sl_min=SL_MIN,
            burst_factor=burst_u,
            burst_mode=mode,
            debias_frontends=debias,
            provisioning_delay_s=cfg.provisioning_delay_s,
            idle_timeout_s=cfg.idle_timeout_s,
            max_backends=MAX_BACKENDS,
        ),
        service=m.profile,
    )
    return simulate(m.workload, policy, sim_config(m, cfg))


def model_vs_simulation(seed: int, requests: int) -> list[dict[str, float]]:
    """Predicted vs simulated P(R <= RT_max) on stationary Poisson traffic
    with a fixed pool of n backends, for loads from light to heavy."""
    rng = np.random.default_rng(seed)
    rows = []
    for mean_ms, sigma in ((20.0, 0.2), (100.0, 0.4)):
        service = LogNormalServiceTime.from_mean(mean_ms / 1000.0, sigma)
        rt_max_s = RT_MAX_OVER_MEAN * service.mean_s
        for load, n in ((0.8, 2), (3.5, 4), (7.0, 8), (14.0, 15), (14.0, 16)):
            rate = load / service.mean_s
            duration = requests / rate
            arrivals = np.sort(rng.uniform(0.0, duration, rng.poisson(requests)))
            w = Workload(
                arrivals,
                service.sample(rng, arrivals.size),
                rng.integers(0, FRONTENDS, arrivals.size),
                duration,
            )
            run = simulate(
                w, StaticPolicy(n), SimConfig(FRONTENDS, 0.0, n, rt_max_s, SL_MIN, duration)
            )
            predicted = p_response_within(n, rate, service, rt_max_s)
            rows.append(
                {
                    "mean_ms": mean_ms,
                    "sigma_log": sigma,
                    "load_erlangs": load,
                    "backends": n,
                    "predicted": predicted,
                    "simulated": run.requests_within,
                    "abs_diff": abs(predicted - run.requests_within),
                }
            )
    return rows
