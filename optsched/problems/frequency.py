"""GPU frequency control (MIAD, μ-Serve: Qiu, "Cloud Systems Management with
Efficient and Robust Online Learning", UIUC dissertation 2024, Sec. 6.3.4 and
Alg. 6.3).

A :class:`FrequencyControl` problem gives, per GPU, its clock range, the
model partitions it serves (SLO and sensitivity weight) and the latency
samples observed in each control period. The answer
(:class:`FrequencySolution`) is one :class:`ClockDecision` per period: the
action, the clock to set, and whether to ask the autoscaler for a replica.
One period is the online case (state in, decision out); several periods
replay a recorded trace.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from optsched.errors import DomainError
from optsched.problems.base import ProblemKind

# Alg. 6.3 and Sec. 6.3.4: STEP (the 100 MHz step of the Sec. 6.2.2 sweep),
# "model latencies are sampled every 500 ms", "each iteration is performed
# every second", "we set the threshold = 0.05" (L11 and the margin in L17).
DEFAULT_STEP_MHZ = 100
DEFAULT_PERIOD_S = 1.0
DEFAULT_SAMPLE_INTERVAL_S = 0.5
DEFAULT_UP_SLACK = 0.05
DEFAULT_DOWN_MARGIN = 0.05
# Sec. 6.3.4: "when the current frequency reaches the maximum, but scaling-up
# is repeatedly called, it can be treated as a signal to replicate". The
# paper gives no count; three periods (3 s at the default period) separates
# a sustained overload from one burst.
DEFAULT_SCALE_OUT_AFTER = 3
# Guards, not in Alg. 6.3 (their defaults give the paper's rules exactly):
# ``down_after``: DOWN only after that many consecutive periods in which the
# rules allow it (1: every period, as in Alg. 6.3), so that the latency the
# controller sees reflects the current clock before the next step down --
# Sec. 6.3.4 wants to "be conservative when scaling down GPU frequencies to
# avoid interruptions to SLO attainment", and with queueing the latency of a
# lower clock shows only after its queue has built up.
# ``slo_margin``: the controller aims at SLO x (1 - slo_margin) instead of
# the SLO itself (a safety margin on the target).
DEFAULT_DOWN_AFTER = 1
DEFAULT_SLO_MARGIN = 0.0


class ClockAction(StrEnum):
    UP = "UP"
    DOWN = "DOWN"
    SAME = "SAME"


def _positive(v: object, where: str) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise DomainError(where, f"must be a positive finite number, got {v!r}")


@dataclass(frozen=True)
class MiadConfig:
    step_mhz: int = DEFAULT_STEP_MHZ
    period_s: float = DEFAULT_PERIOD_S
    sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S
    up_slack: float = DEFAULT_UP_SLACK
    down_margin: float = DEFAULT_DOWN_MARGIN
    scale_out_after: int = DEFAULT_SCALE_OUT_AFTER
    down_after: int = DEFAULT_DOWN_AFTER
    slo_margin: float = DEFAULT_SLO_MARGIN

    def __post_init__(self) -> None:
        for name in ("step_mhz", "period_s", "sample_interval_s", "scale_out_after", "down_after"):
            _positive(getattr(self, name), f"config.{name}")
        for name in ("up_slack", "down_margin", "slo_margin"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1:
                raise DomainError(f"config.{name}", f"must be in [0, 1), got {v!r}")
        if self.sample_interval_s > self.period_s:
            raise DomainError("config.sample_interval_s", "must not exceed period_s")


@dataclass(frozen=True)
class ClockRange:
    """SM clock limits of a GPU, MHz. ``default_mhz`` (the start clock) is
    the maximum unless given (Alg. 6.3 L2, "usually the maximum")."""

    min_mhz: int
    max_mhz: int
    default_mhz: int | None = None

    def __post_init__(self) -> None:
        _positive(self.min_mhz, "clocks.min_mhz")
        _positive(self.max_mhz, "clocks.max_mhz")
        if self.min_mhz > self.max_mhz:
            raise DomainError("clocks.min_mhz", "must not exceed max_mhz")
        if self.default_mhz is None:
            object.__setattr__(self, "default_mhz", self.max_mhz)
        elif not self.min_mhz <= self.default_mhz <= self.max_mhz:
            raise DomainError("clocks.default_mhz", "must lie within [min_mhz, max_mhz]")

    @property
    def start_mhz(self) -> int:
        return int(self.default_mhz if self.default_mhz is not None else self.max_mhz)


@dataclass(frozen=True)
class PartitionSlo:
    """A model partition on the GPU: its latency SLO and the weight of its
    latency that scales with 1/clock (Alg. 6.3 L15 ``p.getWeight()``)."""

    partition_id: str
    slo_ms: float
    weight: float = 1.0

    def __post_init__(self) -> None:
        _positive(self.slo_ms, f"partitions[{self.partition_id}].slo_ms")
        if (
            isinstance(self.weight, bool)
            or not isinstance(self.weight, int | float)
            or not self.weight >= 0
        ):
            raise DomainError(f"partitions[{self.partition_id}].weight", "must be a number >= 0")


@dataclass(frozen=True)
class GpuClockTrace:
    """One GPU: clock range, partitions, and per control period the latency
    samples (ms) of each partition (a partition with no samples in a period
    served no request then). ``start_mhz``, ``up_at_max_streak`` and
    ``down_streak`` carry the controller state in from a previous call."""

    gpu_id: str
    clocks: ClockRange
    partitions: tuple[PartitionSlo, ...]
    periods: tuple[Mapping[str, tuple[float, ...]], ...]
    start_mhz: int | None = None
    up_at_max_streak: int = 0
    down_streak: int = 0

    def __post_init__(self) -> None:
        w = f"gpus[{self.gpu_id}]"
        ids = {p.partition_id for p in self.partitions}
        if len(ids) != len(self.partitions) or not self.partitions:
            raise DomainError(f"{w}.partitions", "must be non-empty with unique partition ids")
        object.__setattr__(self, "periods", tuple(self.periods))
        for t, period in enumerate(self.periods):
            for pid, samples in period.items():
                if pid not in ids:
                    raise DomainError(f"{w}.periods[{t}]", f"unknown partition {pid!r}")
                for v in samples:
                    if (
                        isinstance(v, bool)
                        or not isinstance(v, int | float)
                        or not math.isfinite(v)
                        or v < 0
                    ):
                        raise DomainError(
                            f"{w}.periods[{t}][{pid}]",
                            f"latency must be a finite number >= 0, got {v!r}",
                        )
        if (
            self.start_mhz is not None
            and not self.clocks.min_mhz <= self.start_mhz <= self.clocks.max_mhz
        ):
            raise DomainError(f"{w}.start_mhz", "must lie within the clock range")
        for name in ("up_at_max_streak", "down_streak"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise DomainError(f"{w}.{name}", "must be an integer >= 0")

    @property
    def initial_mhz(self) -> int:
        return self.start_mhz if self.start_mhz is not None else self.clocks.start_mhz


@dataclass(frozen=True)
class FrequencyControl:
    """Decide each GPU's clock in every period of its trace by the MIAD rules
    (see :mod:`optsched.solvers.miad.controller`). Objective: the mean clock
    over all decisions (lower saves power), subject to the rules."""

    kind: ClassVar[ProblemKind] = ProblemKind.FREQUENCY_CONTROL

    gpus: tuple[GpuClockTrace, ...]
    config: MiadConfig = field(default_factory=MiadConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gpus", tuple(self.gpus))
        ids = [g.gpu_id for g in self.gpus]
        if len(set(ids)) != len(ids) or not all(ids):
            raise DomainError("gpus.gpu_id", "missing or duplicate GPU id")

    def size(self) -> int:
        return sum(len(g.periods) * len(g.partitions) for g in self.gpus)


@dataclass(frozen=True)
class ClockDecision:
    action: ClockAction
    clock_mhz: int
    scale_out: bool = False


@dataclass(frozen=True)
class FrequencySolution:
    """GPU id -> one decision per period, in period order."""

    decisions: Mapping[str, tuple[ClockDecision, ...]] = field(default_factory=dict)
