"""Checks for GPU answers: MIG layouts and plans, and model placements.

Written from the problem definitions and NVIDIA's placement rules as stored
in ``optsched/data/mig_profiles.json``; this module reads that file itself
and shares no code with any solver or with the catalog loader.

Violation codes: ``unknown_reference``, ``duplicate``, ``busy_instance``,
``unknown_profile``, ``start_slice``, ``overlap``, ``count``,
``media_extensions``, ``compute``, ``profile_mismatch``, ``instance_shared``,
``unplaced_reason`` (MIG); ``memory``, ``max_devices``, ``partial_model``
(model placement).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from optsched.results import SolveResult
from optsched.validation.report import ValidationReport


@cache
def _catalog() -> dict[str, Any]:
    raw = json.loads(resources.files("optsched").joinpath("data", "mig_profiles.json").read_text())
    models: dict[str, Any] = raw["gpu_models"]
    return models


def _profile(model: str, name: str) -> dict[str, Any] | None:
    for p in _catalog()[model]["profiles"]:
        if p["name"] == name:
            return dict(p)
    return None


def layout_violations(model: str, instances: Iterable[tuple[str, int]]) -> list[tuple[str, str]]:
    """(code, message) for every rule a GPU layout of ``model`` breaks:
    profile known, start slice allowed, no memory slice shared, per-profile
    count, media-extension count, compute slices."""
    spec = _catalog()[model]
    out: list[tuple[str, str]] = []
    owner: dict[int, str] = {}
    counts: dict[str, int] = {}
    media = compute = 0
    for name, start in instances:
        p = _profile(model, name)
        if p is None:
            out.append(("unknown_profile", f"{model} has no profile {name!r}"))
            continue
        if start not in p["starts"]:
            out.append(("start_slice", f"{name} may start at {p['starts']}, not {start}"))
        for sl in range(start, start + p["memory_slices"]):
            if sl in owner:
                out.append(("overlap", f"{name}@{start} shares memory slice {sl} with {owner[sl]}"))
            owner[sl] = f"{name}@{start}"
            if sl >= spec["memory_slices"]:
                out.append(
                    ("start_slice", f"{name}@{start} runs past slice {spec['memory_slices'] - 1}")
                )
        counts[name] = counts.get(name, 0) + 1
        if counts[name] == p["max_count"] + 1:
            out.append(("count", f"more than {p['max_count']} instances of {name}"))
        media += bool(p.get("media_extensions"))
        compute += p["compute_slices"]
    if media > spec["max_media_extension_instances"]:
        out.append(
            (
                "media_extensions",
                f"{media} media-extension instances, at most {spec['max_media_extension_instances']}",
            )
        )
    if compute > spec["compute_slices"]:
        out.append(("compute", f"{compute} compute slices, the GPU has {spec['compute_slices']}"))
    return out


def expected_profile(model: str, request: Any) -> str | None:
    """The profile a request must get on ``model``: the named one, or the
    smallest plain profile meeting its minimum (memory slices, then compute
    slices, then name)."""
    if request.profile is not None:
        return str(request.profile) if _profile(model, request.profile) else None
    fits = [
        p
        for p in _catalog()[model]["profiles"]
        if not p.get("media_extensions")
        and p["memory_gb"] >= request.min_memory_gb
        and p["compute_slices"] >= request.min_compute_slices
    ]
    if not fits:
        return None
    return str(
        min(fits, key=lambda p: (p["memory_slices"], p["compute_slices"], p["name"]))["name"]
    )


def _apply_plan(gpu: Any, plan: Any, report: ValidationReport) -> dict[str, tuple[str, int, bool]]:
    """Apply destroys then creates one step at a time, checking each step;
    return the final layout (instance id -> (profile, start, busy))."""
    layout = {i.instance_id: (i.profile, i.start_slice, i.busy) for i in gpu.instances}
    for iid in plan.destroy:
        if iid not in layout:
            report.add("unknown_reference", f"destroys unknown instance {iid!r}", node=gpu.gpu_id)
        elif layout[iid][2]:
            report.add("busy_instance", f"destroys busy instance {iid!r}", node=gpu.gpu_id)
        else:
            del layout[iid]
    for step, inst in enumerate(plan.create):
        if inst.instance_id in layout:
            report.add(
                "duplicate",
                f"creates instance id {inst.instance_id!r} twice",
                node=gpu.gpu_id,
                step=step,
            )
            continue
        layout[inst.instance_id] = (inst.profile, inst.start_slice, False)
        for code, msg in layout_violations(gpu.model, [(p, s) for p, s, _ in layout.values()]):
            report.add(
                code, f"after creating {inst.instance_id}: {msg}", node=gpu.gpu_id, step=step
            )
    return layout


def validate_partitions(problem: Any, result: SolveResult) -> ValidationReport:
    report = ValidationReport()
    gpus = {g.gpu_id: g for g in problem.gpus}
    reqs = {r.request_id: r for r in problem.requests}
    plans = list(result.solution.plans) if result.solution is not None else []
    seen_gpus: set[str] = set()
    placed: dict[str, str] = {}
    destroyed = reconfigured = 0
    serving: set[str] = set()
    for plan in plans:
        g = gpus.get(plan.gpu_id)
        if g is None or plan.gpu_id in seen_gpus:
            report.add(
                "unknown_reference" if g is None else "duplicate",
                f"plan for GPU {plan.gpu_id!r}",
                node=plan.gpu_id,
            )
            continue
        seen_gpus.add(plan.gpu_id)
        layout = _apply_plan(g, plan, report)
        destroyed += len(plan.destroy)
        if any(i.busy for i in g.instances) and (plan.destroy or plan.create):
            reconfigured += 1
        used_instances: set[str] = set()
        for rid, iid in plan.assignments.items():
            r = reqs.get(rid)
            if r is None or rid in placed:
                report.add(
                    "unknown_reference" if r is None else "duplicate",
                    f"request {rid!r} assigned again or unknown",
                    item_id=rid,
                )
                continue
            placed[rid] = plan.gpu_id
            if iid not in layout or layout[iid][2]:
                report.add(
                    "unknown_reference" if iid not in layout else "busy_instance",
                    f"instance {iid!r} not free on {g.gpu_id}",
                    item_id=rid,
                )
                continue
            if iid in used_instances:
                report.add("instance_shared", f"instance {iid!r} serves two requests", item_id=rid)
            used_instances.add(iid)
            want = expected_profile(g.model, r)
            if layout[iid][0] != want:
                report.add(
                    "profile_mismatch",
                    f"got {layout[iid][0]}, needs {want} on {g.model}",
                    item_id=rid,
                )
        if used_instances:
            serving.add(plan.gpu_id)
    unplaced = {u.item_id for u in result.unplaced}
    for rid in reqs:
        if rid not in placed and rid not in unplaced:
            report.add(
                "unplaced_reason",
                "request neither placed nor listed as unplaced with a reason",
                item_id=rid,
            )
    used = sum(1 for g in problem.gpus if any(i.busy for i in g.instances) or g.gpu_id in serving)
    tiers = sorted({r.priority for r in problem.requests}, reverse=True)
    per_tier = {
        t: sum(1 for r in problem.requests if r.priority == t and r.request_id in placed)
        for t in tiers
    }
    report.objective = float(len(placed))
    report.metrics.update(
        placed=len(placed),
        placed_by_priority=per_tier,
        gpus_used=used,
        reconfigured_busy_gpus=reconfigured,
        idle_destroyed=destroyed,
        memory_slices_used=_slices_used(problem, plans),
        lex_objective=(*per_tier.values(), -used, -reconfigured, -destroyed),
    )
    return report


def _slices_used(problem: Any, plans: list[Any]) -> int:
    """Memory slices held by busy instances plus instances serving requests."""
    by_gpu = {p.gpu_id: p for p in plans}
    total = 0
    for g in problem.gpus:
        plan = by_gpu.get(g.gpu_id)
        layout = {i.instance_id: (i.profile, i.busy) for i in g.instances}
        if plan is not None:
            layout.update({i.instance_id: (i.profile, False) for i in plan.create})
        serving = set(plan.assignments.values()) if plan is not None else set()
        for iid, (prof, busy) in layout.items():
            p = _profile(g.model, prof)
            if p is not None and (busy or iid in serving):
                total += p["memory_slices"]
    return total


def validate_model_placement(problem: Any, result: SolveResult) -> ValidationReport:
    """Memory per GPU, at most CT distinct GPUs per model, models whole;
    objective: sum over GPUs of the highest sensitivity placed there."""
    report = ValidationReport()
    gpus = {g.gpu_id: g for g in problem.gpus}
    parts = {p.partition_id: p for p in problem.partitions}
    placement = dict(result.solution.placement) if result.solution is not None else {}
    mem: dict[str, float] = {}
    top: dict[str, float] = {}
    devices: dict[str, set[str]] = {}
    for pid, gid in placement.items():
        p, g = parts.get(pid), gpus.get(gid)
        if p is None or g is None:
            report.add(
                "unknown_reference", f"partition {pid!r} on GPU {gid!r}", item_id=pid, node=gid
            )
            continue
        mem[gid] = mem.get(gid, 0.0) + p.memory_gb
        top[gid] = max(top.get(gid, 0.0), p.sensitivity)
        devices.setdefault(p.model, set()).add(gid)
    for gid, used in mem.items():
        if used > gpus[gid].memory_gb + 1e-9:
            report.add(
                "memory", f"{used:g} GB placed, capacity {gpus[gid].memory_gb:g} GB", node=gid
            )
    for model, devs in devices.items():
        if len(devs) > problem.max_devices_per_model:
            report.add(
                "max_devices",
                f"model {model} on {len(devs)} GPUs, at most {problem.max_devices_per_model}",
            )
    models: dict[str, list[str]] = {}
    for p in problem.partitions:
        models.setdefault(p.model, []).append(p.partition_id)
    for model, pids in models.items():
        n = sum(1 for pid in pids if pid in placement)
        if 0 < n < len(pids):
            report.add("partial_model", f"model {model}: {n} of {len(pids)} partitions placed")
    unplaced = {u.item_id for u in result.unplaced}
    for pid in parts:
        if pid not in placement and pid not in unplaced:
            report.add(
                "unplaced_reason", "partition neither placed nor listed as unplaced", item_id=pid
            )
    report.objective = float(sum(top.values()))
    report.metrics.update(
        placed=sum(1 for pid in placement if pid in parts),
        gpus_used=len(top),
        sum_max_sensitivity=report.objective,
    )
    return report
