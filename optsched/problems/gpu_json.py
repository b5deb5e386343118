"""JSON forms of the GPU problems and their answers, for ``optsched solve
mig|models|frequency`` (the formats are documented in those commands).
A missing or mistyped field raises DomainError naming it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from optsched.errors import DomainError
from optsched.model.cluster import Gpu, MigInstance
from optsched.problems.frequency import (
    ClockRange,
    FrequencyControl,
    GpuClockTrace,
    MiadConfig,
    PartitionSlo,
)
from optsched.problems.gpu import (
    GpuDevice,
    GpuPartitionPlacement,
    MigRequest,
    ModelPartition,
    ModelPlacement,
)
from optsched.results import SolveResult

_MISSING = object()


def _get(
    d: Any, key: str, where: str, typ: type | tuple[type, ...], default: Any = _MISSING
) -> Any:
    if not isinstance(d, Mapping):
        raise DomainError(where, "must be a JSON object")
    if key not in d:
        if default is _MISSING:
            raise DomainError(f"{where}.{key}", "is required")
        return default
    v = d[key]
    if (
        isinstance(v, bool)
        and typ is not bool
        and bool not in (typ if isinstance(typ, tuple) else (typ,))
    ):
        raise DomainError(f"{where}.{key}", f"must be {typ}, got a boolean")
    if not isinstance(v, typ):
        raise DomainError(
            f"{where}.{key}", f"must be {getattr(typ, '__name__', typ)}, got {type(v).__name__}"
        )
    return v


def _list(d: Any, key: str, where: str) -> list[Any]:
    return list(_get(d, key, where, list, []))


NUM = (int, float)


def mig_problem(d: Any) -> GpuPartitionPlacement:
    gpus = []
    for i, g in enumerate(_list(d, "gpus", "")):
        w = f"gpus[{i}]"
        insts = tuple(
            MigInstance(
                _get(x, "instance_id", f"{w}.instances[{j}]", str),
                _get(x, "profile", f"{w}.instances[{j}]", str),
                _get(x, "start_slice", f"{w}.instances[{j}]", int),
                _get(x, "busy", f"{w}.instances[{j}]", bool, False),
            )
            for j, x in enumerate(_list(g, "instances", w))
        )
        gpus.append(Gpu(_get(g, "gpu_id", w, str), _get(g, "model", w, str), insts))
    reqs = []
    for i, r in enumerate(_list(d, "requests", "")):
        w = f"requests[{i}]"
        reqs.append(
            MigRequest(
                _get(r, "request_id", w, str),
                _get(r, "profile", w, str, None),
                float(_get(r, "min_memory_gb", w, NUM, 0.0)),
                _get(r, "min_compute_slices", w, int, 0),
                _get(r, "priority", w, int, 0),
                _get(r, "tenant", w, str, ""),
            )
        )
    return GpuPartitionPlacement(tuple(gpus), tuple(reqs))


def models_problem(d: Any) -> ModelPlacement:
    gpus = tuple(
        GpuDevice(
            _get(g, "gpu_id", f"gpus[{i}]", str), float(_get(g, "memory_gb", f"gpus[{i}]", NUM))
        )
        for i, g in enumerate(_list(d, "gpus", ""))
    )
    parts = tuple(
        ModelPartition(
            _get(p, "partition_id", f"partitions[{i}]", str),
            _get(p, "model", f"partitions[{i}]", str),
            float(_get(p, "memory_gb", f"partitions[{i}]", NUM)),
            float(_get(p, "sensitivity", f"partitions[{i}]", NUM)),
            float(_get(p, "weight", f"partitions[{i}]", NUM, 1.0)),
        )
        for i, p in enumerate(_list(d, "partitions", ""))
    )
    return ModelPlacement(gpus, parts, _get(d, "max_devices_per_model", "", int, 2))


def frequency_problem(d: Any) -> FrequencyControl:
    cfg = _get(d, "config", "", dict, {})
    config = MiadConfig(**{k: v for k, v in cfg.items() if k in MiadConfig.__dataclass_fields__})
    unknown = set(cfg) - set(MiadConfig.__dataclass_fields__)
    if unknown:
        raise DomainError("config", f"unknown keys {sorted(unknown)}")
    gpus = []
    for i, g in enumerate(_list(d, "gpus", "")):
        w = f"gpus[{i}]"
        c = _get(g, "clocks", w, dict)
        clocks = ClockRange(
            _get(c, "min_mhz", f"{w}.clocks", int),
            _get(c, "max_mhz", f"{w}.clocks", int),
            _get(c, "default_mhz", f"{w}.clocks", int, None),
        )
        parts = tuple(
            PartitionSlo(
                _get(p, "partition_id", f"{w}.partitions[{j}]", str),
                float(_get(p, "slo_ms", f"{w}.partitions[{j}]", NUM)),
                float(_get(p, "weight", f"{w}.partitions[{j}]", NUM, 1.0)),
            )
            for j, p in enumerate(_list(g, "partitions", w))
        )
        periods = tuple(
            {str(k): tuple(float(x) for x in _get(per, k, f"{w}.periods[{t}]", list)) for k in per}
            for t, per in enumerate(_list(g, "periods", w))
        )
        gpus.append(
            GpuClockTrace(
                _get(g, "gpu_id", w, str),
                clocks,
                parts,
                periods,
                _get(g, "start_mhz", w, int, None),
                _get(g, "up_at_max_streak", w, int, 0),
                _get(g, "down_streak", w, int, 0),
            )
        )
    return FrequencyControl(tuple(gpus), config)


def result_head(result: SolveResult, metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "status": str(result.status),
        "solver": result.solver,
        "objective": result.objective,
        "wall_time_s": result.wall_time_s,
        "message": result.message,
        "metrics": {k: (v if not isinstance(v, tuple) else list(v)) for k, v in metrics.items()},
        "unplaced": [{"id": u.item_id, "reason": u.reason} for u in result.unplaced],
    }


def mig_answer(result: SolveResult, metrics: Mapping[str, Any]) -> dict[str, Any]:
    out = result_head(result, metrics)
    plans = result.solution.plans if result.solution is not None else ()
    out["plans"] = [
        {
            "gpu_id": p.gpu_id,
            "destroy": list(p.destroy),
            "create": [
                {"instance_id": i.instance_id, "profile": i.profile, "start_slice": i.start_slice}
                for i in p.create
            ],
            "assignments": dict(p.assignments),
        }
        for p in plans
    ]
    return out


def models_answer(result: SolveResult, metrics: Mapping[str, Any]) -> dict[str, Any]:
    out = result_head(result, metrics)
    out["placement"] = dict(result.solution.placement) if result.solution is not None else {}
    return out


def frequency_answer(result: SolveResult, metrics: Mapping[str, Any]) -> dict[str, Any]:
    out = result_head(result, metrics)
    decisions = result.solution.decisions if result.solution is not None else {}
    out["decisions"] = {
        g: [{**asdict(d), "action": str(d.action)} for d in steps] for g, steps in decisions.items()
    }
    return out
