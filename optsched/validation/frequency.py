"""Checks for frequency-control answers, re-derived from the MIAD rules of
μ-Serve (Qiu 2024 dissertation, Alg. 6.3) as the problem states them and
sharing no code with the controller.

For every GPU and period: the clock lies in [min, max]; the action is the
one the rules give for the latencies observed (the largest sample of each
partition in the period, against the SLO less ``slo_margin``), a DOWN
being held as SAME until ``down_after`` consecutive periods allow it; the
clock follows the action (UP doubles, capped at max; DOWN subtracts STEP,
floored at min; SAME keeps it); the scale-out flag is raised exactly at
``scale_out_after`` consecutive UPs taken at max.
Codes: ``unknown_reference``, ``missing``, ``clock_range``, ``action``,
``clock``, ``scale_out``. Objective: the mean clock over all decisions.
"""

from __future__ import annotations

from typing import Any

from optsched.results import SolveResult
from optsched.validation.report import ValidationReport


def _expected_action(clock: int, gpu: Any, period: Any, cfg: Any) -> str:
    down = True
    for p in gpu.partitions:
        samples = period.get(p.partition_id, ())
        if not samples:
            continue
        latency = max(samples)
        target = p.slo_ms - p.slo_ms * cfg.slo_margin
        slack = (target - latency) / target
        if slack < cfg.up_slack:
            return "UP"
        if p.weight * latency * cfg.step_mhz / clock / target >= slack - cfg.down_margin:
            down = False
    return "DOWN" if down else "SAME"


def _check_gpu(gpu: Any, steps: Any, cfg: Any, report: ValidationReport) -> None:
    lo, hi = gpu.clocks.min_mhz, gpu.clocks.max_mhz
    clock = gpu.start_mhz if gpu.start_mhz is not None else gpu.clocks.start_mhz
    streak, allowed = gpu.up_at_max_streak, gpu.down_streak
    for t, (period, d) in enumerate(zip(gpu.periods, steps, strict=False)):
        want = _expected_action(clock, gpu, period, cfg)
        allowed = allowed + 1 if want == "DOWN" else 0
        if want == "DOWN" and allowed < cfg.down_after:
            want = "SAME"
        elif want == "DOWN":
            allowed = 0
        if str(d.action) != want:
            report.add(
                "action",
                f"period {t}: {d.action} where the rules give {want}",
                node=gpu.gpu_id,
                step=t,
            )
        flag = False
        if want == "UP":
            streak = streak + 1 if clock >= hi else 0
            if streak >= cfg.scale_out_after:
                flag, streak = True, 0
            nxt = min(hi, 2 * clock)
        elif want == "DOWN":
            streak, nxt = 0, max(lo, clock - cfg.step_mhz)
        else:
            streak, nxt = 0, clock
        if not lo <= d.clock_mhz <= hi:
            report.add(
                "clock_range",
                f"period {t}: {d.clock_mhz} MHz outside [{lo}, {hi}]",
                node=gpu.gpu_id,
                step=t,
            )
        if d.clock_mhz != nxt:
            report.add(
                "clock",
                f"period {t}: {d.clock_mhz} MHz where {want} from {clock} gives {nxt}",
                node=gpu.gpu_id,
                step=t,
            )
        if bool(d.scale_out) != flag:
            report.add(
                "scale_out",
                f"period {t}: scale_out={d.scale_out}, expected {flag}",
                node=gpu.gpu_id,
                step=t,
            )
        clock = d.clock_mhz


def validate_frequency(problem: Any, result: SolveResult) -> ValidationReport:
    report = ValidationReport()
    decisions = dict(result.solution.decisions) if result.solution is not None else {}
    gpus = {g.gpu_id: g for g in problem.gpus}
    for gid in decisions:
        if gid not in gpus:
            report.add("unknown_reference", f"decisions for unknown GPU {gid!r}", node=gid)
    clocks: list[int] = []
    for g in problem.gpus:
        steps = tuple(decisions.get(g.gpu_id, ()))
        if len(steps) != len(g.periods):
            report.add(
                "missing", f"{len(steps)} decisions for {len(g.periods)} periods", node=g.gpu_id
            )
        _check_gpu(g, steps, problem.config, report)
        clocks += [d.clock_mhz for d in steps]
    report.objective = sum(clocks) / len(clocks) if clocks else 0.0
    report.metrics.update(
        decisions=len(clocks),
        scale_out_signals=sum(1 for s in decisions.values() for d in s if d.scale_out),
    )
    return report
