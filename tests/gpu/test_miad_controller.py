"""MIAD (μ-Serve Alg. 6.3) rule by rule, and the frequency validator."""

from __future__ import annotations

from dataclasses import replace

import pytest

from optsched.budget import Budget
from optsched.errors import DomainError
from optsched.problems.frequency import (
    ClockAction,
    ClockDecision,
    ClockRange,
    FrequencyControl,
    GpuClockTrace,
    MiadConfig,
    PartitionSlo,
)
from optsched.registry import create
from optsched.solvers.miad.controller import ControllerState, decide
from optsched.validate import validate

CLOCKS = ClockRange(200, 1400)
CFG = MiadConfig()
A = PartitionSlo("a", slo_ms=100.0, weight=1.0)
B = PartitionSlo("b", slo_ms=200.0, weight=0.5)


def step(
    clock: int,
    lat: dict[str, float | None],
    streak: int = 0,
    parts: tuple[PartitionSlo, ...] = (A, B),
) -> tuple[ClockDecision, ControllerState]:
    return decide(ControllerState(clock, streak), parts, lat, CLOCKS, CFG)


def test_defaults_follow_the_paper() -> None:
    assert (CFG.step_mhz, CFG.period_s, CFG.sample_interval_s, CFG.up_slack, CFG.down_margin) == (
        100,
        1.0,
        0.5,
        0.05,
        0.05,
    )
    assert CLOCKS.start_mhz == 1400


def test_low_slack_on_any_partition_means_up_doubling() -> None:
    d, s = step(400, {"a": 96.0, "b": 10.0})  # slack_a = 0.04 < 0.05
    assert (d.action, d.clock_mhz, d.scale_out) == (ClockAction.UP, 800, False)
    d, _ = step(400, {"a": 150.0, "b": 10.0})  # negative slack
    assert d.action is ClockAction.UP


def test_up_is_capped_at_max() -> None:
    d, _ = step(900, {"a": 99.0, "b": None})
    assert (d.action, d.clock_mhz) == (ClockAction.UP, 1400)


def test_down_when_every_partition_has_room() -> None:
    # a: slack 0.5, degradation 1*50*100/1000/100 = 0.05 < 0.45; b: slack 0.5, 0.5*100*100/1000/200 = 0.025 < 0.45
    d, _ = step(1000, {"a": 50.0, "b": 100.0})
    assert (d.action, d.clock_mhz) == (ClockAction.DOWN, 900)


def test_no_down_when_one_partition_lacks_slack() -> None:
    # b: slack 0.1 (>= 0.05, so no UP), degradation 0.5*180*100/300/200 = 0.15 >= 0.1 - 0.05
    d, _ = step(300, {"a": 10.0, "b": 180.0})
    assert (d.action, d.clock_mhz) == (ClockAction.SAME, 300)
    # the same latencies at a high clock allow DOWN: the estimated degradation
    # shrinks as 1/f (0.5*180*100/1400/200 = 0.032 < 0.1 - 0.05)
    d, _ = step(1400, {"a": 10.0, "b": 180.0})
    assert (d.action, d.clock_mhz) == (ClockAction.DOWN, 1300)


def test_down_is_floored_at_min_and_idle_partitions_do_not_block() -> None:
    d, _ = step(250, {"a": None, "b": None})
    assert (d.action, d.clock_mhz) == (ClockAction.DOWN, 200)
    d, _ = step(200, {"a": 1.0, "b": 1.0})
    assert (d.action, d.clock_mhz) == (ClockAction.DOWN, 200)


def test_repeated_up_at_max_signals_scale_out() -> None:
    state = ControllerState(1400)
    flags = []
    for _ in range(7):
        d, state = decide(state, (A,), {"a": 120.0}, CLOCKS, CFG)
        assert d.clock_mhz == 1400 and d.action is ClockAction.UP
        flags.append(d.scale_out)
    assert flags == [False, False, True, False, False, True, False]
    # an UP that is not at max resets the streak
    d, state = decide(ControllerState(700, 2), (A,), {"a": 120.0}, CLOCKS, CFG)
    assert state.up_at_max_streak == 0 and not d.scale_out


def test_config_is_checked() -> None:
    with pytest.raises(DomainError, match="config.step_mhz"):
        MiadConfig(step_mhz=0)
    with pytest.raises(DomainError, match="config.up_slack"):
        MiadConfig(up_slack=1.5)
    with pytest.raises(DomainError, match="clocks.min_mhz"):
        ClockRange(1500, 1400)


def trace() -> FrequencyControl:
    periods = (
        [{"a": (50.0, 40.0), "b": (100.0,)}] * 4 + [{"a": (99.0,)}] + [{"a": (150.0,)}] * 4 + [{}]
    )
    gpu = GpuClockTrace("g", CLOCKS, (A, B), tuple(periods), start_mhz=1000)
    return FrequencyControl((gpu,))


def test_solver_answers_pass_the_validator() -> None:
    pb = trace()
    res = create("miad").solve(pb, Budget(1))
    rep = validate(pb, res)
    assert rep.ok, rep.summary()
    steps = res.solution.decisions["g"]
    assert [d.action.value for d in steps[:6]] == ["DOWN"] * 4 + ["UP", "UP"]
    assert [d.clock_mhz for d in steps[:6]] == [900, 800, 700, 600, 1200, 1400]
    assert rep.metrics["scale_out_signals"] == 1


@pytest.mark.parametrize(
    "tamper, code",
    [
        (lambda d: replace(d, clock_mhz=d.clock_mhz - 100), "clock"),
        (lambda d: replace(d, action=ClockAction.SAME), "action"),
        (lambda d: replace(d, scale_out=not d.scale_out), "scale_out"),
        (lambda d: replace(d, clock_mhz=5000), "clock_range"),
    ],
)
def test_validator_rejects_tampered_decisions(tamper, code) -> None:  # type: ignore[no-untyped-def]
    pb = trace()
    res = create("miad").solve(pb, Budget(1))
    steps = list(res.solution.decisions["g"])
    steps[2] = tamper(steps[2])
    bad = replace(res, solution=replace(res.solution, decisions={"g": tuple(steps)}))
    assert code in validate(pb, bad).codes()


HOLD3 = MiadConfig(down_after=3)


def test_down_after_holds_a_down_until_n_consecutive_allowing_periods() -> None:
    room: dict[str, float | None] = {"a": 50.0, "b": 100.0}  # DOWN by the rules (see above)
    tight: dict[str, float | None] = {"a": 10.0, "b": 180.0}  # SAME at 300 MHz (see above)
    state, got = ControllerState(1000), []
    for lat in (room, room, room, room, room, room):
        d, state = decide(state, (A, B), lat, CLOCKS, HOLD3)
        got.append((d.action.value, d.clock_mhz))
    assert got == [
        ("SAME", 1000),
        ("SAME", 1000),
        ("DOWN", 900),
        ("SAME", 900),
        ("SAME", 900),
        ("DOWN", 800),
    ]
    # a period that does not allow DOWN restarts the count; UP is never held
    d, state = decide(ControllerState(300, 0, 2), (A, B), tight, CLOCKS, HOLD3)
    assert (d.action, state.down_streak) == (ClockAction.SAME, 0)
    d, state = decide(ControllerState(400, 0, 2), (A, B), {"a": 99.0}, CLOCKS, HOLD3)
    assert (d.action, d.clock_mhz, state.down_streak) == (ClockAction.UP, 800, 0)
    # the default (1) is Alg. 6.3: DOWN in every allowing period
    assert CFG.down_after == 1 and step(1000, room)[0].action is ClockAction.DOWN


def test_slo_margin_runs_the_rules_against_a_tighter_target() -> None:
    margin = MiadConfig(slo_margin=0.2)  # a: target 80 ms
    lat: dict[str, float | None] = {"a": 77.0, "b": None}  # slack 0.23 vs SLO, 0.0375 vs target
    assert step(1000, lat)[0].action is ClockAction.DOWN
    d, _ = decide(ControllerState(1000), (A, B), lat, CLOCKS, margin)
    assert d.action is ClockAction.UP
    assert CFG.slo_margin == 0.0
    with pytest.raises(DomainError, match="config.slo_margin"):
        MiadConfig(slo_margin=1.0)
    with pytest.raises(DomainError, match="config.down_after"):
        MiadConfig(down_after=0)


def test_validator_follows_the_guards() -> None:
    pb = replace(trace(), config=MiadConfig(down_after=2, slo_margin=0.1))
    res = create("miad").solve(pb, Budget(1))
    assert validate(pb, res).ok
    steps = res.solution.decisions["g"]
    assert [d.action.value for d in steps[:4]] == ["SAME", "DOWN", "SAME", "DOWN"]
    early = replace(steps[0], action=ClockAction.DOWN, clock_mhz=900)
    bad = replace(res, solution=replace(res.solution, decisions={"g": (early, *steps[1:])}))
    assert "action" in validate(pb, bad).codes()
