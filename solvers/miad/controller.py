"""The MIAD GPU clock controller as a pure function (state in, decision out).

Source: Qiu, "Cloud Systems Management with Efficient and Robust Online
Learning", UIUC dissertation 2024, Sec. 6.3.4, Alg. 6.3 (μ-Serve). Every
control period, for each partition ``p`` on the GPU with latency ``L_p``:

  slack_p = (SLO_p - L_p) / SLO_p
  UP      if any slack_p < up_slack (0.05)
  DOWN    if for every partition  w_p * L_p * STEP / f / SLO_p < slack_p - down_margin
          (the estimated extra latency of one STEP down, from latency ~ 1/f,
          must leave the margin)
  SAME    otherwise
  UP: f = min(MAX, 2 f);  DOWN: f = max(MIN, f - STEP)

Guards (configuration; their defaults give the rules above exactly):

- ``slo_margin`` m: the rules run against the target SLO_p (1 - m).
- ``down_after`` n: a DOWN the rules allow is taken only in the n-th
  consecutive period that allows it (SAME before); the count restarts after
  each DOWN and after any period that does not allow DOWN. Additive
  decrease then waits for the latency to show the current clock.

Differences from the pseudo-code, each stated:

- Alg. 6.3 sets DOWN as soon as *one* partition has room and never clears
  it, so one idle partition lowers the clock under a partition with little
  slack; the text ("a larger-than-degradation slack results in a
  down-scaling action", one clock for all partitions) and the issue require
  DOWN only when every partition has room, as here.
- ``p.getModelLatency()`` is left open; here it is the largest of the
  period's latency samples (every ``sample_interval_s``, 500 ms by default),
  the conservative reading. A partition with no sample in the period served
  no request and constrains nothing.
- Scale-out: "when the current frequency reaches the maximum, but
  scaling-up is repeatedly called" becomes: an UP decided while the clock is
  already at MAX extends a streak; at ``scale_out_after`` consecutive such
  periods the decision carries ``scale_out`` and the streak restarts, so a
  sustained overload repeats the signal every ``scale_out_after`` periods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from optsched.problems.frequency import (
    ClockAction,
    ClockDecision,
    ClockRange,
    MiadConfig,
    PartitionSlo,
)


@dataclass(frozen=True)
class ControllerState:
    clock_mhz: int
    up_at_max_streak: int = 0
    down_streak: int = 0  # consecutive periods the rules allowed DOWN, not yet taken


def period_latency(samples: Sequence[float]) -> float | None:
    """The latency a period reports for one partition: its largest sample."""
    return max(samples) if samples else None


def choose_action(
    clock_mhz: int,
    partitions: Sequence[PartitionSlo],
    latency_ms: Mapping[str, float | None],
    config: MiadConfig,
) -> ClockAction:
    down_ok = True
    for p in partitions:
        lat = latency_ms.get(p.partition_id)
        if lat is None:
            continue
        target_ms = p.slo_ms * (1.0 - config.slo_margin)
        slack = (target_ms - lat) / target_ms
        if slack < config.up_slack:
            return ClockAction.UP
        degradation_ms = p.weight * lat * config.step_mhz / clock_mhz
        if not degradation_ms / target_ms < slack - config.down_margin:
            down_ok = False
    return ClockAction.DOWN if down_ok else ClockAction.SAME


def decide(
    state: ControllerState,
    partitions: Sequence[PartitionSlo],
    latency_ms: Mapping[str, float | None],
    clocks: ClockRange,
    config: MiadConfig,
) -> tuple[ClockDecision, ControllerState]:
    """One control period: the decision and the next state."""
    action = choose_action(state.clock_mhz, partitions, latency_ms, config)
    clock, streak, scale_out, held = state.clock_mhz, 0, False, 0
    if action is ClockAction.DOWN and state.down_streak + 1 < config.down_after:
        action, held = ClockAction.SAME, state.down_streak + 1
    if action is ClockAction.UP:
        streak = state.up_at_max_streak + 1 if clock >= clocks.max_mhz else 0
        clock = min(clocks.max_mhz, clock * 2)
        if streak >= config.scale_out_after:
            scale_out, streak = True, 0
    elif action is ClockAction.DOWN:
        clock = max(clocks.min_mhz, clock - config.step_mhz)
    return ClockDecision(action, clock, scale_out), ControllerState(clock, streak, held)


def replay(
    partitions: Sequence[PartitionSlo],
    periods: Sequence[Mapping[str, Sequence[float]]],
    clocks: ClockRange,
    config: MiadConfig,
    state: ControllerState,
) -> tuple[list[ClockDecision], ControllerState]:
    """Run the controller over recorded periods of latency samples."""
    out = []
    for period in periods:
        lat = {p.partition_id: period_latency(period.get(p.partition_id, ())) for p in partitions}
        d, state = decide(state, partitions, lat, clocks, config)
        out.append(d)
    return out, state
