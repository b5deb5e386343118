"""Clock actuators: where a MIAD decision becomes a GPU setting.

:class:`ClockActuator` is the interface; :class:`DryRunActuator` records
what it would do; :class:`NvmlActuator` locks the SM clock through NVML
(``nvmlDeviceSetGpuLockedClocks(handle, f, f)``) with the optional
``nvidia-ml-py`` package (``pip install optsched[nvml]``), imported only when
that backend is built. Locking clocks needs root or an administrator-granted
permission on the device; NVML errors surface as :class:`ActuatorError`.

:class:`MiadAgent` ties controller and actuator together for one GPU: feed
it each period's latency samples, it decides and applies.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from optsched.errors import OptschedError
from optsched.problems.frequency import ClockDecision, ClockRange, MiadConfig, PartitionSlo
from optsched.solvers.miad.controller import ControllerState, decide, period_latency


class ActuatorError(OptschedError, RuntimeError):
    """A clock could not be read or set on the device."""


@runtime_checkable
class ClockActuator(Protocol):
    def clock_range(self, gpu_index: int) -> ClockRange:
        """The SM clocks the device supports, MHz."""
        ...

    def set_clock(self, gpu_index: int, clock_mhz: int) -> int:
        """Lock the SM clock at (the closest supported clock not above)
        ``clock_mhz``; return the clock actually set."""
        ...

    def reset(self, gpu_index: int) -> None:
        """Give the clock back to the driver's default management."""
        ...


@dataclass
class DryRunActuator:
    """Applies nothing; records every call as (gpu index, MHz or None for a reset)."""

    clocks: ClockRange
    calls: list[tuple[int, int | None]] = field(default_factory=list)

    def clock_range(self, gpu_index: int) -> ClockRange:
        return self.clocks

    def set_clock(self, gpu_index: int, clock_mhz: int) -> int:
        applied = min(self.clocks.max_mhz, max(self.clocks.min_mhz, int(clock_mhz)))
        self.calls.append((gpu_index, applied))
        return applied

    def reset(self, gpu_index: int) -> None:
        self.calls.append((gpu_index, None))


class NvmlActuator:
    """SM clock locking through NVML. ``nvml`` injects the module (tests);
    by default ``pynvml`` from nvidia-ml-py is imported here, lazily."""

    def __init__(self, nvml: ModuleType | None = None) -> None:
        if nvml is None:
            try:
                nvml = importlib.import_module("pynvml")
            except ImportError as exc:
                raise ActuatorError(
                    "the NVML backend needs nvidia-ml-py: pip install 'optsched[nvml]'"
                ) from exc
        self._nvml = nvml
        self._handles: dict[int, Any] = {}
        self._call("nvmlInit")

    def _call(self, fn: str, *args: Any) -> Any:
        try:
            return getattr(self._nvml, fn)(*args)
        except self._nvml.NVMLError as exc:
            raise ActuatorError(f"{fn}{args}: {exc}") from exc

    def _handle(self, gpu_index: int) -> Any:
        if gpu_index not in self._handles:
            self._handles[gpu_index] = self._call("nvmlDeviceGetHandleByIndex", gpu_index)
        return self._handles[gpu_index]

    def supported_clocks(self, gpu_index: int) -> list[int]:
        """SM clocks supported at the highest memory clock, ascending."""
        h = self._handle(gpu_index)
        mem = max(self._call("nvmlDeviceGetSupportedMemoryClocks", h))
        return sorted(int(c) for c in self._call("nvmlDeviceGetSupportedGraphicsClocks", h, mem))

    def clock_range(self, gpu_index: int) -> ClockRange:
        clocks = self.supported_clocks(gpu_index)
        return ClockRange(clocks[0], clocks[-1])

    def set_clock(self, gpu_index: int, clock_mhz: int) -> int:
        clocks = self.supported_clocks(gpu_index)
        applied = max((c for c in clocks if c <= clock_mhz), default=clocks[0])
        self._call("nvmlDeviceSetGpuLockedClocks", self._handle(gpu_index), applied, applied)
        return applied

    def reset(self, gpu_index: int) -> None:
        self._call("nvmlDeviceResetGpuLockedClocks", self._handle(gpu_index))

    def power_w(self, gpu_index: int) -> float:
        """Current board power draw (NVML reports milliwatts)."""
        return float(self._call("nvmlDeviceGetPowerUsage", self._handle(gpu_index))) / 1000.0

    def close(self) -> None:
        for idx in list(self._handles):
            self.reset(idx)
        self._handles.clear()
        self._call("nvmlShutdown")

    def __enter__(self) -> NvmlActuator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class MiadAgent:
    """The online loop body for one GPU: ``tick(samples)`` once per period."""

    gpu_index: int
    partitions: Sequence[PartitionSlo]
    actuator: ClockActuator
    config: MiadConfig = field(default_factory=MiadConfig)
    clocks: ClockRange | None = None
    state: ControllerState | None = None

    def start(self) -> int:
        """Read the device's range and set the start clock (Alg. 6.3 L2-3)."""
        if self.clocks is None:
            self.clocks = self.actuator.clock_range(self.gpu_index)
        applied = self.actuator.set_clock(self.gpu_index, self.clocks.start_mhz)
        self.state = ControllerState(applied)
        return applied

    def tick(self, samples_ms: Mapping[str, Sequence[float]]) -> ClockDecision:
        if self.state is None or self.clocks is None:
            self.start()
        assert self.state is not None and self.clocks is not None
        lat = {
            p.partition_id: period_latency(samples_ms.get(p.partition_id, ()))
            for p in self.partitions
        }
        decision, nxt = decide(self.state, self.partitions, lat, self.clocks, self.config)
        if decision.clock_mhz != self.state.clock_mhz:
            applied = self.actuator.set_clock(self.gpu_index, decision.clock_mhz)
            nxt = ControllerState(applied, nxt.up_at_max_streak)
        self.state = nxt
        return decision
