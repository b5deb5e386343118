"""Clock actuators: dry run, and NVML through a fake pynvml module."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest

from optsched.problems.frequency import ClockAction, ClockRange, PartitionSlo
from optsched.solvers.miad.actuator import (
    ActuatorError,
    ClockActuator,
    DryRunActuator,
    MiadAgent,
    NvmlActuator,
)


class FakeNvmlError(Exception):
    pass


def fake_pynvml(fail_lock: bool = False) -> types.ModuleType:
    mod = types.ModuleType("pynvml")
    calls: list[tuple] = []
    mod.calls = calls  # type: ignore[attr-defined]
    mod.NVMLError = FakeNvmlError  # type: ignore[attr-defined]
    mod.nvmlInit = lambda: calls.append(("init",))  # type: ignore[attr-defined]
    mod.nvmlShutdown = lambda: calls.append(("shutdown",))  # type: ignore[attr-defined]
    mod.nvmlDeviceGetHandleByIndex = lambda i: f"h{i}"  # type: ignore[attr-defined]
    mod.nvmlDeviceGetSupportedMemoryClocks = lambda h: [877, 810]  # type: ignore[attr-defined]
    mod.nvmlDeviceGetSupportedGraphicsClocks = lambda h, m: (
        [1380, 1305, 1200, 1005, 607, 202] if m == 877 else [135]
    )  # type: ignore[attr-defined]
    mod.nvmlDeviceGetPowerUsage = lambda h: 123456  # type: ignore[attr-defined]

    def lock(h: str, lo: int, hi: int) -> None:
        if fail_lock:
            raise FakeNvmlError("Insufficient Permissions")
        calls.append(("lock", h, lo, hi))

    mod.nvmlDeviceSetGpuLockedClocks = lock  # type: ignore[attr-defined]
    mod.nvmlDeviceResetGpuLockedClocks = lambda h: calls.append(("reset", h))  # type: ignore[attr-defined]
    return mod


@pytest.fixture
def nvml(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    mod = fake_pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", mod)
    yield mod


def test_nvml_backend_locks_supported_clocks(nvml: types.ModuleType) -> None:
    with NvmlActuator() as act:
        assert isinstance(act, ClockActuator)
        assert act.clock_range(0) == ClockRange(202, 1380)
        assert act.set_clock(0, 1100) == 1005  # the highest supported clock not above the request
        assert act.set_clock(0, 100) == 202
        assert act.power_w(0) == pytest.approx(123.456)
    assert ("lock", "h0", 1005, 1005) in nvml.calls  # type: ignore[attr-defined]
    assert nvml.calls[-2:] == [("reset", "h0"), ("shutdown",)]  # type: ignore[attr-defined]


def test_nvml_errors_become_actuator_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(fail_lock=True))
    act = NvmlActuator()
    with pytest.raises(ActuatorError, match="Insufficient Permissions"):
        act.set_clock(0, 1000)


def test_missing_nvidia_ml_py_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes the import fail
    with pytest.raises(ActuatorError, match=r"optsched\[nvml\]"):
        NvmlActuator()


def test_agent_applies_decisions_only_on_change(nvml: types.ModuleType) -> None:
    agent = MiadAgent(0, (PartitionSlo("m", 100.0, 1.0),), NvmlActuator())
    assert agent.start() == 1380
    d = agent.tick({"m": [20.0, 30.0]})
    assert (
        d.action is ClockAction.DOWN and agent.state is not None and agent.state.clock_mhz == 1200
    )
    d = agent.tick({"m": [99.0]})
    assert d.action is ClockAction.UP and agent.state.clock_mhz == 1380
    locks = [c for c in nvml.calls if c[0] == "lock"]  # type: ignore[attr-defined]
    assert [c[2] for c in locks] == [1380, 1200, 1380]


def test_dry_run_records_and_clamps() -> None:
    act = DryRunActuator(ClockRange(200, 1400))
    agent = MiadAgent(3, (PartitionSlo("m", 100.0),), act)
    agent.tick({})
    assert act.set_clock(3, 5000) == 1400
    act.reset(3)
    assert act.calls == [(3, 1400), (3, 1300), (3, 1400), (3, None)]
