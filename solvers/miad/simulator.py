"""A discrete-event simulator of one GPU serving model partitions under a
clock policy: MIAD, a fixed clock, or the best static clock in hindsight.

Model (after μ-Serve, Qiu 2024 dissertation, Sec. 6.2.2 and 6.3.4):

- Each partition is a FIFO single server (its own MIG slice or stream) fed
  by its arrival times. A request's service time at clock ``f`` is
  ``S (1 - s + s F_max / f)`` (:mod:`.latency`). The service time is fixed
  when service starts (a clock change mid-request is ignored).
- The clock is constant within a control period. Every
  ``sample_interval_s`` (500 ms) a :class:`LatencyMonitor` reads, per
  partition, the latency statistic the SLO is written on: the p99 (μ-Serve
  Sec. 6.2.1: "99% of the requests ... within" the SLO latency; Sec. 6.4.2
  judges SLOs by each model's p99) of the requests completed in the trailing
  window. At each period's end (1 s) the policy sees the period's samples and
  picks the next clock.
- Power: :class:`~.power.PowerModel`, with the GPU's utilisation in a period
  the mean busy fraction of its partitions.
- SLO attainment (μ-Serve Sec. 6.4.1, "the percentage of requests served
  within the latency SLO"): per request, over the requests arrived before
  the horizon; a request not finished by the horizon counts as a miss. An
  SLO is *kept* (Sec. 6.4.2, Fig. 6.8) when every model's p99 latency is
  within its SLO, i.e. each model's attainment is at least 99%.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from optsched.problems.frequency import ClockRange, MiadConfig, PartitionSlo
from optsched.solvers.miad.controller import ControllerState, decide, period_latency
from optsched.solvers.miad.latency import service_ms
from optsched.solvers.miad.power import PowerModel

# "99% of the requests for a model must be finished within" the SLO latency
# (μ-Serve Sec. 6.2.1); Sec. 6.4.2 reports each model's p99 against its SLO.
SLO_QUANTILE = 0.99
STATIC_TARGET_ATTAINMENT = SLO_QUANTILE


@dataclass(frozen=True)
class LatencyMonitor:
    """What ``p.getModelLatency()`` (Alg. 6.3 L9) returns at a sample instant.

    ``quantile`` of the latencies completed in the trailing ``window_s``
    (None: the sample interval, i.e. the requests completed since the last
    sample). The paper samples every 500 ms but does not name the window.
    ``in_flight`` (a guard, not in the paper): a request still queued or in
    service at the sample instant has a latency of at least its age, so the
    sample is at least the oldest such age; without it a queue that builds
    up is invisible until its requests complete."""

    quantile: float = SLO_QUANTILE
    window_s: float | None = None
    in_flight: bool = False

    def label(self) -> str:
        w = "" if self.window_s is None else f"/{self.window_s:g}s"
        return f"p{100 * self.quantile:g}{w}" + ("+queue" if self.in_flight else "")


@dataclass(frozen=True)
class SimPartition:
    partition_id: str
    slo_ms: float
    service_ms_at_max: float
    sensitivity: float
    arrivals_s: np.ndarray

    def service_ms(self, clock_mhz: float, max_mhz: float) -> float:
        return service_ms(self.service_ms_at_max, self.sensitivity, clock_mhz, max_mhz)

    def slo(self) -> PartitionSlo:
        return PartitionSlo(self.partition_id, self.slo_ms, self.sensitivity)


class ClockPolicy(Protocol):
    name: str

    def start(self, clocks: ClockRange) -> int: ...

    def next_clock(
        self, clock_mhz: int, samples_ms: Mapping[str, Sequence[float]]
    ) -> tuple[int, bool]:
        """The clock for the next period and whether to signal scale-out."""
        ...


@dataclass
class FixedClockPolicy:
    clock_mhz: int
    name: str = "fixed"

    def start(self, clocks: ClockRange) -> int:
        return self.clock_mhz

    def next_clock(
        self, clock_mhz: int, samples_ms: Mapping[str, Sequence[float]]
    ) -> tuple[int, bool]:
        return self.clock_mhz, False


@dataclass
class MiadPolicy:
    partitions: Sequence[PartitionSlo]
    config: MiadConfig = field(default_factory=MiadConfig)
    name: str = "miad"
    _clocks: ClockRange | None = None
    _state: ControllerState | None = None

    def start(self, clocks: ClockRange) -> int:
        self._clocks, self._state = clocks, ControllerState(clocks.start_mhz)
        return clocks.start_mhz

    def next_clock(
        self, clock_mhz: int, samples_ms: Mapping[str, Sequence[float]]
    ) -> tuple[int, bool]:
        assert self._clocks is not None and self._state is not None
        lat = {
            p.partition_id: period_latency(samples_ms.get(p.partition_id, ()))
            for p in self.partitions
        }
        d, self._state = decide(self._state, self.partitions, lat, self._clocks, self.config)
        return d.clock_mhz, d.scale_out


@dataclass(frozen=True)
class PartitionStats:
    requests: int
    slo_met: int
    p99_ms: float  # inf when more than 1% of the requests did not finish

    @property
    def attainment(self) -> float:
        return self.slo_met / self.requests if self.requests else 1.0


@dataclass
class SimResult:
    policy: str
    requests: int
    slo_met: int
    energy_j: float
    duration_s: float
    scale_out_signals: int
    period_start_s: np.ndarray
    clock_mhz: np.ndarray
    latency_ms: dict[str, np.ndarray]  # per partition, what the policy saw per period (nan: none)
    partitions: dict[str, PartitionStats] = field(default_factory=dict)
    slo_ms: dict[str, float] = field(default_factory=dict)

    @property
    def slo_attainment(self) -> float:
        return self.slo_met / self.requests if self.requests else 1.0

    @property
    def worst_attainment(self) -> float:
        return min((s.attainment for s in self.partitions.values()), default=1.0)

    @property
    def worst_p99_over_slo(self) -> float:
        return max((s.p99_ms / self.slo_ms[p] for p, s in self.partitions.items()), default=0.0)

    @property
    def slo_kept(self) -> bool:
        """Every model's p99 within its SLO (μ-Serve Sec. 6.4.2)."""
        return self.worst_p99_over_slo <= 1.0

    @property
    def mean_power_w(self) -> float:
        return self.energy_j / self.duration_s

    @property
    def mean_clock_mhz(self) -> float:
        return float(self.clock_mhz.mean()) if len(self.clock_mhz) else 0.0


@dataclass
class _Server:
    part: SimPartition
    next_req: int = 0
    free_at_s: float = 0.0
    finish_s: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        self.finish_s = np.full(len(self.part.arrivals_s), np.inf)

    def serve_until(
        self, end_s: float, clock: int, max_mhz: int, busy: np.ndarray, period_s: float
    ) -> None:
        arr = self.part.arrivals_s
        svc_s = self.part.service_ms(clock, max_mhz) / 1000.0
        while self.next_req < len(arr):
            start = max(float(arr[self.next_req]), self.free_at_s)
            if start >= end_s:
                return
            finish = start + svc_s
            _add_busy(busy, start, finish, period_s)
            self.finish_s[self.next_req] = self.free_at_s = finish
            self.next_req += 1

    def sample(self, t: float, window_s: float, mon: LatencyMonitor) -> float | None:
        """The monitor's reading at instant ``t`` (FIFO: finish times are
        sorted, and the unfinished requests are a suffix)."""
        arr, fin = self.part.arrivals_s, self.finish_s
        lo, hi = np.searchsorted(fin, [t - window_s, t], side="right")
        out = None
        if hi > lo:
            out = float(np.quantile((fin[lo:hi] - arr[lo:hi]) * 1000.0, mon.quantile))
        if mon.in_flight and hi < len(arr) and arr[hi] <= t:
            age_ms = (t - float(arr[hi])) * 1000.0
            out = age_ms if out is None else max(out, age_ms)
        return out

    def stats(self, horizon_s: float) -> PartitionStats:
        arrived = int(np.searchsorted(self.part.arrivals_s, horizon_s))
        lat_ms = (self.finish_s[:arrived] - self.part.arrivals_s[:arrived]) * 1000.0
        met = int(np.count_nonzero(lat_ms <= self.part.slo_ms))
        p99 = float(np.quantile(lat_ms, SLO_QUANTILE, method="inverted_cdf")) if arrived else 0.0
        return PartitionStats(arrived, met, p99)


def _add_busy(busy: np.ndarray, start: float, finish: float, period_s: float) -> None:
    k = int(start // period_s)
    while k < len(busy) and k * period_s < finish:
        busy[k] += max(0.0, min(finish, (k + 1) * period_s) - max(start, k * period_s))
        k += 1


def simulate(
    parts: Sequence[SimPartition],
    clocks: ClockRange,
    policy: ClockPolicy,
    duration_s: float,
    config: MiadConfig | None = None,
    power: PowerModel | None = None,
    monitor: LatencyMonitor | None = None,
) -> SimResult:
    cfg, pw, mon = config or MiadConfig(), power or PowerModel(), monitor or LatencyMonitor()
    window_s = mon.window_s if mon.window_s is not None else cfg.sample_interval_s
    n = int(np.ceil(duration_s / cfg.period_s))
    n_samples = max(1, int(round(cfg.period_s / cfg.sample_interval_s)))
    servers = [_Server(p) for p in parts]
    busy = {p.partition_id: np.zeros(n) for p in parts}
    clock_log, lat_log = np.zeros(n), {p.partition_id: np.full(n, np.nan) for p in parts}
    clock, energy, scale_outs = policy.start(clocks), 0.0, 0
    for k in range(n):
        t0 = k * cfg.period_s
        clock_log[k] = clock
        samples: dict[str, list[float]] = {}
        for s in servers:
            pid = s.part.partition_id
            s.serve_until(t0 + cfg.period_s, clock, clocks.max_mhz, busy[pid], cfg.period_s)
            got = [
                s.sample(t0 + (j + 1) * cfg.sample_interval_s, window_s, mon)
                for j in range(n_samples)
            ]
            samples[pid] = [v for v in got if v is not None]
            if samples[pid]:
                lat_log[pid][k] = max(samples[pid])
        util = (
            float(np.mean([busy[p.partition_id][k] for p in parts])) / cfg.period_s
            if parts
            else 0.0
        )
        energy += pw.power_w(clock, util) * cfg.period_s
        clock, signal = policy.next_clock(clock, samples)
        scale_outs += signal
    stats = {s.part.partition_id: s.stats(duration_s) for s in servers}
    return SimResult(
        policy.name,
        sum(s.requests for s in stats.values()),
        sum(s.slo_met for s in stats.values()),
        energy,
        n * cfg.period_s,
        scale_outs,
        np.arange(n) * cfg.period_s,
        clock_log,
        lat_log,
        stats,
        {p.partition_id: p.slo_ms for p in parts},
    )


def static_best_clock(
    parts: Sequence[SimPartition],
    clocks: ClockRange,
    duration_s: float,
    config: MiadConfig | None = None,
    power: PowerModel | None = None,
    target: float = STATIC_TARGET_ATTAINMENT,
) -> SimResult:
    """The lowest clock on the STEP grid at which every partition's
    whole-trace SLO attainment reaches ``target`` (an oracle: it sees the
    trace in hindsight); the maximum clock when none does. Binary search:
    with FIFO service and the same arrivals, every request's latency is
    non-increasing in the clock (Lindley's recursion is monotone in the
    service times), so attainment is monotone too."""
    cfg = config or MiadConfig()
    grid = list(range(clocks.min_mhz, clocks.max_mhz, cfg.step_mhz)) + [clocks.max_mhz]

    def run(f: int) -> SimResult:
        return simulate(parts, clocks, FixedClockPolicy(f, "static-best"), duration_s, cfg, power)

    lo, hi, best = 0, len(grid) - 1, run(grid[-1])
    if best.worst_attainment < target:
        return best
    while lo < hi:
        mid = (lo + hi) // 2
        res = run(grid[mid])
        if res.worst_attainment >= target:
            hi, best = mid, res
        else:
            lo = mid + 1
    return best
