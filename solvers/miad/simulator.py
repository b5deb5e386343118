"""A discrete-event simulator of one GPU serving model partitions under a
clock policy: MIAD, a fixed clock, or the best static clock in hindsight.

Model (after μ-Serve, Qiu 2024 dissertation, Sec. 6.2.2 and 6.3.4):

- Each partition is a FIFO single server (its own MIG slice or stream) fed
  by its arrival times. A request's service time at clock ``f`` is
  ``S (1 - s + s F_max / f)``: the share ``s`` of the work (the partition's
  sensitivity) scales with 1/f, the rest (memory- and I/O-bound) does not,
  so latency grows as the clock drops as Fig. 6.2 shows. The service time
  is fixed when service starts (a clock change mid-request is ignored).
- The clock is constant within a control period. At each period's end the
  policy sees, per partition, one latency sample per ``sample_interval_s``
  window (the ``latency_quantile`` of the requests completed in it) and
  picks the next clock.
- Power: :class:`~.power.PowerModel`, with the GPU's utilisation in a period
  the mean busy fraction of its partitions.
- SLO attainment: the share of requests arrived before the horizon whose
  latency is within their SLO; a request not started by the horizon counts
  as a miss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from optsched.problems.frequency import ClockRange, MiadConfig, PartitionSlo
from optsched.solvers.miad.controller import ControllerState, decide, period_latency
from optsched.solvers.miad.power import PowerModel

STATIC_TARGET_ATTAINMENT = 0.99  # "99% of the requests ... within" the SLO (μ-Serve Sec. 6.2.1)


@dataclass(frozen=True)
class SimPartition:
    partition_id: str
    slo_ms: float
    service_ms_at_max: float
    sensitivity: float
    arrivals_s: np.ndarray

    def service_ms(self, clock_mhz: float, max_mhz: float) -> float:
        return self.service_ms_at_max * (
            1.0 - self.sensitivity + self.sensitivity * max_mhz / clock_mhz
        )

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
    latency_ms: dict[
        str, np.ndarray
    ]  # per partition, the largest latency completed in each period (nan: none)

    @property
    def slo_attainment(self) -> float:
        return self.slo_met / self.requests if self.requests else 1.0

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
    finish_s: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    read: int = 0  # completions already handed to the policy

    def serve_until(
        self, end_s: float, clock: int, max_mhz: int, busy: np.ndarray, period_s: float
    ) -> None:
        arr = self.part.arrivals_s
        while self.next_req < len(arr):
            start = max(float(arr[self.next_req]), self.free_at_s)
            if start >= end_s:
                return
            finish = start + self.part.service_ms(clock, max_mhz) / 1000.0
            _add_busy(busy, start, finish, period_s)
            self.finish_s.append(finish)
            self.latency_ms.append((finish - float(arr[self.next_req])) * 1000.0)
            self.free_at_s = finish
            self.next_req += 1

    def samples(self, t0: float, t1: float, window_s: float, q: float) -> list[float]:
        """One sample per window of [t0, t1): the quantile of the latencies
        completed in it (FIFO completions are in finish order)."""
        out = []
        w = t0
        while w < t1 - 1e-12:
            hi = min(t1, w + window_s)
            got = []
            while self.read < len(self.finish_s) and self.finish_s[self.read] < hi:
                got.append(self.latency_ms[self.read])
                self.read += 1
            if got:
                out.append(float(np.quantile(got, q)))
            w = hi
        return out


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
    latency_quantile: float = 0.99,
) -> SimResult:
    cfg, pw = config or MiadConfig(), power or PowerModel()
    n = int(np.ceil(duration_s / cfg.period_s))
    servers = [_Server(p) for p in parts]
    busy = {p.partition_id: np.zeros(n) for p in parts}
    clock_log, lat_log = np.zeros(n), {p.partition_id: np.full(n, np.nan) for p in parts}
    clock, energy, scale_outs = policy.start(clocks), 0.0, 0
    for k in range(n):
        t0, t1 = k * cfg.period_s, (k + 1) * cfg.period_s
        clock_log[k] = clock
        samples: dict[str, list[float]] = {}
        for s in servers:
            s.serve_until(t1, clock, clocks.max_mhz, busy[s.part.partition_id], cfg.period_s)
            samples[s.part.partition_id] = s.samples(
                t0, t1, cfg.sample_interval_s, latency_quantile
            )
            if samples[s.part.partition_id]:
                lat_log[s.part.partition_id][k] = max(samples[s.part.partition_id])
        util = (
            float(np.mean([busy[p.partition_id][k] for p in parts])) / cfg.period_s
            if parts
            else 0.0
        )
        energy += pw.power_w(clock, util) * cfg.period_s
        clock, signal = policy.next_clock(clock, samples)
        scale_outs += signal
    requests = met = 0
    for s in servers:
        arrived = int(np.searchsorted(s.part.arrivals_s, duration_s))
        requests += arrived
        met += sum(1 for lat in s.latency_ms[:arrived] if lat <= s.part.slo_ms)
    return SimResult(
        policy.name,
        requests,
        met,
        energy,
        n * cfg.period_s,
        scale_outs,
        np.arange(n) * cfg.period_s,
        clock_log,
        lat_log,
    )


def static_best_clock(
    parts: Sequence[SimPartition],
    clocks: ClockRange,
    duration_s: float,
    config: MiadConfig | None = None,
    power: PowerModel | None = None,
    target: float = STATIC_TARGET_ATTAINMENT,
) -> SimResult:
    """The lowest clock on the STEP grid whose whole-trace SLO attainment
    reaches ``target`` (an oracle: it sees the trace in hindsight); the
    maximum clock when none does."""
    cfg = config or MiadConfig()
    grid = list(range(clocks.min_mhz, clocks.max_mhz, cfg.step_mhz)) + [clocks.max_mhz]
    for f in grid:
        res = simulate(parts, clocks, FixedClockPolicy(f, "static-best"), duration_s, cfg, power)
        if res.slo_attainment >= target:
            return res
    return res
