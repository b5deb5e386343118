"""Proto <-> model-serving problems (``serving.proto``): backend sizing
(Swayam) and GPU frequency control (MIAD), and their solutions.

Counts and the numbers that size the work (samples, periods, backends) are
checked here against the server's limits with proto paths; the domain
constructors check the rest (finite, positive, ranges) and their errors are
re-raised under the problem's path (``sizing.models[resnet].sl_min``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from optsched.api.convert_gpu import number, within
from optsched.api.convert_model import count, quantity, text
from optsched.api.limits import Limits
from optsched.api.v1 import serving_pb2
from optsched.errors import DomainError
from optsched.problems.frequency import (
    ClockAction,
    ClockDecision,
    ClockRange,
    FrequencyControl,
    FrequencySolution,
    GpuClockTrace,
    MiadConfig,
    PartitionSlo,
)
from optsched.problems.sizing import DEFAULT_MAX_BACKENDS, BackendSizing, ModelSla

# Backends per model: the solver searches n upwards from the stability bound
# and the validator's Erlang C sums n terms, so the bound keeps both linear
# work small; 10**4 backends of one model is beyond any deployment we size.
MAX_BACKENDS = 10_000
# Rates (requests/s), durations (ms) and clocks (MHz) far beyond any real
# value still pass; this only keeps overflow-sized inputs out of the models.
MAX_MEASURE = 1e9

# Sizing.


def sizing_from_proto(msg: serving_pb2.SizingProblem, path: str, limits: Limits) -> BackendSizing:
    count(msg.models, f"{path}.models", limits.max_items)
    models = []
    for i, m in enumerate(msg.models):
        w = f"{path}.models[{i}]"
        count(m.service_times_ms, f"{w}.service_times_ms", limits.max_items)
        for j, s in enumerate(m.service_times_ms):
            number(s, f"{w}.service_times_ms[{j}]", positive=True, limit=MAX_MEASURE)
        kw: dict[str, Any] = {}
        if m.HasField("sl_min"):
            kw["sl_min"] = m.sl_min
        if m.HasField("burst_factor"):
            kw["burst_factor"] = number(m.burst_factor, f"{w}.burst_factor", limit=MAX_MEASURE)
        with within(path):
            models.append(
                ModelSla(
                    name=text(m.name, f"{w}.name"),
                    arrival_rate_per_s=number(
                        m.arrival_rate_per_s, f"{w}.arrival_rate_per_s", limit=MAX_MEASURE
                    ),
                    service_times_ms=tuple(m.service_times_ms),
                    rt_max_ms=number(m.rt_max_ms, f"{w}.rt_max_ms", limit=MAX_MEASURE),
                    **kw,
                )
            )
    max_backends = DEFAULT_MAX_BACKENDS
    if msg.HasField("max_backends"):
        max_backends = quantity(
            msg.max_backends, f"{path}.max_backends", replace_quantity(limits, MAX_BACKENDS)
        )
    with within(path):
        return BackendSizing(tuple(models), max_backends)


def replace_quantity(limits: Limits, cap: int) -> Limits:
    return replace(limits, max_quantity=min(limits.max_quantity, cap))


def sizing_to_proto(problem: BackendSizing, msg: serving_pb2.SizingProblem) -> None:
    for m in problem.models:
        msg.models.add(
            name=m.name,
            arrival_rate_per_s=m.arrival_rate_per_s,
            service_times_ms=list(m.service_times_ms),
            rt_max_ms=m.rt_max_ms,
            sl_min=m.sl_min,
            burst_factor=m.burst_factor,
        )
    msg.max_backends = problem.max_backends


SIZING_FIELDS = ("mu_log", "sigma_log", "mean_service_ms", "offered_load", "stability_bound")


def sizing_solution_to_proto(solution: Any, response: Any) -> None:
    models = solution.get("models", {}) if isinstance(solution, dict) else {}
    for name, a in models.items():
        out = response.models.add(name=name, **{k: a[k] for k in SIZING_FIELDS if k in a})
        if a.get("backends") is not None:
            out.backends = a["backends"]
        if a.get("predicted_compliance") is not None:
            out.predicted_compliance = a["predicted_compliance"]


def sizing_solution_from_proto(response: Any, prefix: str) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for m in response.models:
        a = {k: getattr(m, k) for k in SIZING_FIELDS}
        a["backends"] = m.backends if m.HasField("backends") else None
        a["predicted_compliance"] = (
            m.predicted_compliance if m.HasField("predicted_compliance") else None
        )
        models[m.name] = a
    return {"models": models}


# Frequency control.

CONFIG_FIELDS = tuple(MiadConfig.__dataclass_fields__)
ACTION_TO_PROTO = {
    ClockAction.UP: serving_pb2.CLOCK_ACTION_UP,
    ClockAction.DOWN: serving_pb2.CLOCK_ACTION_DOWN,
    ClockAction.SAME: serving_pb2.CLOCK_ACTION_SAME,
}
ACTION_FROM_PROTO = {v: k for k, v in ACTION_TO_PROTO.items()}


def _config(msg: serving_pb2.MiadConfig, root: str) -> MiadConfig:
    kw = {name: getattr(msg, name) for name in CONFIG_FIELDS if msg.HasField(name)}  # type: ignore[arg-type]
    with within(root):  # MiadConfig names its fields config.*
        return MiadConfig(**kw)


def _trace(msg: serving_pb2.GpuClockTrace, path: str, root: str, limits: Limits) -> GpuClockTrace:
    count(msg.partitions, f"{path}.partitions", limits.max_entries)
    count(msg.periods, f"{path}.periods", limits.max_items)
    if not msg.HasField("clocks"):
        raise DomainError(f"{path}.clocks", "is required")
    c = msg.clocks
    with within(path):
        clocks = ClockRange(
            c.min_mhz, c.max_mhz, c.default_mhz if c.HasField("default_mhz") else None
        )
        parts = tuple(
            PartitionSlo(
                text(p.partition_id, f"{path}.partitions[{j}].partition_id"),
                number(p.slo_ms, f"{path}.partitions[{j}].slo_ms", limit=MAX_MEASURE),
                number(p.weight, f"{path}.partitions[{j}].weight", limit=MAX_MEASURE)
                if p.HasField("weight")
                else 1.0,
            )
            for j, p in enumerate(msg.partitions)
        )
    periods = []
    for t, period in enumerate(msg.periods):
        w = f"{path}.periods[{t}].samples"
        count(period.samples, w, limits.max_entries)
        samples = {}
        for pid, s in period.samples.items():
            count(s.latencies_ms, f"{w}[{pid}].latencies_ms", limits.max_items)
            for k, v in enumerate(s.latencies_ms):
                number(v, f"{w}[{pid}].latencies_ms[{k}]", limit=MAX_MEASURE)
            samples[pid] = tuple(s.latencies_ms)
        periods.append(samples)
    for name in ("up_at_max_streak", "down_streak"):
        if getattr(msg, name) < 0:
            raise DomainError(f"{path}.{name}", "must not be negative")
    with within(root):  # GpuClockTrace names its fields gpus[ID].*
        return GpuClockTrace(
            text(msg.gpu_id, f"{path}.gpu_id"),
            clocks,
            parts,
            tuple(periods),
            msg.start_mhz if msg.HasField("start_mhz") else None,
            msg.up_at_max_streak,
            msg.down_streak,
        )


def frequency_from_proto(
    msg: serving_pb2.FrequencyProblem, path: str, limits: Limits
) -> FrequencyControl:
    count(msg.gpus, f"{path}.gpus", limits.max_nodes)
    gpus = tuple(_trace(g, f"{path}.gpus[{i}]", path, limits) for i, g in enumerate(msg.gpus))
    size = sum(len(g.periods) * len(g.partitions) for g in gpus)
    if size > limits.max_items:
        raise DomainError(
            f"{path}.gpus", f"has {size} period x partition cells, at most {limits.max_items}"
        )
    config = _config(msg.config, path)
    with within(path):
        return FrequencyControl(gpus, config)


def frequency_to_proto(problem: FrequencyControl, msg: serving_pb2.FrequencyProblem) -> None:
    for name in CONFIG_FIELDS:
        setattr(msg.config, name, getattr(problem.config, name))
    for g in problem.gpus:
        out = msg.gpus.add(
            gpu_id=g.gpu_id, up_at_max_streak=g.up_at_max_streak, down_streak=g.down_streak
        )
        out.clocks.min_mhz, out.clocks.max_mhz = g.clocks.min_mhz, g.clocks.max_mhz
        out.clocks.default_mhz = g.clocks.start_mhz
        if g.start_mhz is not None:
            out.start_mhz = g.start_mhz
        for p in g.partitions:
            out.partitions.add(partition_id=p.partition_id, slo_ms=p.slo_ms, weight=p.weight)
        for period in g.periods:
            cell = out.periods.add()
            for pid, samples in period.items():
                cell.samples[pid].latencies_ms[:] = list(samples)


def frequency_solution_to_proto(solution: FrequencySolution | None, response: Any) -> None:
    decisions = solution.decisions if solution is not None else {}
    for gpu_id, steps in decisions.items():
        out = response.gpus.add(gpu_id=gpu_id)
        for d in steps:
            out.decisions.add(
                action=ACTION_TO_PROTO[d.action], clock_mhz=d.clock_mhz, scale_out=d.scale_out
            )


def frequency_solution_from_proto(response: Any, prefix: str) -> FrequencySolution:
    decisions = {}
    for i, g in enumerate(response.gpus):
        steps = []
        for t, d in enumerate(g.decisions):
            if d.action not in ACTION_FROM_PROTO:
                raise DomainError(
                    f"{prefix}gpus[{i}].decisions[{t}].action", "must be UP, DOWN or SAME"
                )
            steps.append(ClockDecision(ACTION_FROM_PROTO[d.action], d.clock_mhz, d.scale_out))
        decisions[g.gpu_id] = tuple(steps)
    return FrequencySolution(decisions)
