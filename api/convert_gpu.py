"""Proto <-> GPU problems (``gpu.proto``): MIG partition placement and
sensitivity-aware model placement, and their solutions.

As in :mod:`optsched.api.convert_model`, the ``*_from_proto`` functions check
every field and raise :class:`~optsched.errors.DomainError` naming its proto
path (``mig.requests[2].min_memory_gb``); the domain constructors' own checks
(catalog profiles, MIG layouts) are re-raised under the problem's path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from optsched.api.convert_model import _gpus, count, text
from optsched.api.limits import MAX_ABS_PRIORITY, Limits
from optsched.api.v1 import gpu_pb2
from optsched.errors import DomainError
from optsched.model.cluster import MigInstance
from optsched.problems.gpu import (
    GpuDevice,
    GpuPartitionPlacement,
    MigGpuPlan,
    MigRequest,
    MigSolution,
    ModelPartition,
    ModelPlacement,
    ModelPlacementSolution,
)

# A GPU's memory in GB: the largest today hold under 200 GB; 10**6 leaves room
# without letting a typo (bytes for GB) through.
MAX_GPU_MEMORY_GB = 1e6


@contextmanager
def within(path: str) -> Iterator[None]:
    """Re-raise a domain constructor's error (whose field is relative to
    the problem) under the problem's proto path."""
    try:
        yield
    except DomainError as exc:
        if exc.field.startswith(path):
            raise
        raise DomainError(f"{path}.{exc.field}", exc.message) from exc


def number(
    value: float, path: str, *, positive: bool = False, limit: float = MAX_GPU_MEMORY_GB
) -> float:
    """A finite, non-negative (or positive) float no larger than ``limit``."""
    if not math.isfinite(value):
        raise DomainError(path, f"must be a finite number, got {value}")
    if value < 0 or (positive and value == 0):
        raise DomainError(
            path, f"must be {'positive' if positive else 'non-negative'}, got {value}"
        )
    if value > limit:
        raise DomainError(path, f"is {value:g}, at most {limit:g} allowed")
    return float(value)


def priority(value: int, path: str) -> int:
    if abs(value) > MAX_ABS_PRIORITY:
        raise DomainError(path, f"must be within ±{MAX_ABS_PRIORITY}")
    return int(value)


# MIG partition placement.


def _mig_request(msg: gpu_pb2.MigRequest, path: str, root: str) -> MigRequest:
    if msg.min_compute_slices < 0:
        raise DomainError(f"{path}.min_compute_slices", "must not be negative")
    profile = text(msg.profile, f"{path}.profile") if msg.HasField("profile") else None
    with within(root):
        return MigRequest(
            request_id=text(msg.request_id, f"{path}.request_id"),
            profile=profile,
            min_memory_gb=number(msg.min_memory_gb, f"{path}.min_memory_gb"),
            min_compute_slices=int(msg.min_compute_slices),
            priority=priority(msg.priority, f"{path}.priority"),
            tenant=text(msg.tenant, f"{path}.tenant", required=False),
        )


def mig_from_proto(
    msg: gpu_pb2.GpuPartitionProblem, path: str, limits: Limits
) -> GpuPartitionPlacement:
    count(msg.requests, f"{path}.requests", limits.max_items)
    count(msg.gpus, f"{path}.gpus", limits.max_nodes)
    for i, g in enumerate(msg.gpus):
        count(g.instances, f"{path}.gpus[{i}].instances", limits.max_entries)
    # _gpus counts GPUs against max_entries (GPUs per node); here they are the cluster.
    gpus = _gpus(list(msg.gpus), f"{path}.gpus", replace(limits, max_entries=limits.max_nodes))
    requests = tuple(
        _mig_request(r, f"{path}.requests[{i}]", path) for i, r in enumerate(msg.requests)
    )
    with within(path):
        return GpuPartitionPlacement(gpus, requests)


def mig_to_proto(problem: GpuPartitionPlacement, msg: gpu_pb2.GpuPartitionProblem) -> None:
    for g in problem.gpus:
        gpu = msg.gpus.add(gpu_id=g.gpu_id, model=g.model)
        for m in g.instances:
            gpu.instances.add(
                instance_id=m.instance_id, profile=m.profile, start_slice=m.start_slice, busy=m.busy
            )
    for r in problem.requests:
        out = msg.requests.add(
            request_id=r.request_id,
            min_memory_gb=r.min_memory_gb,
            min_compute_slices=r.min_compute_slices,
            priority=r.priority,
            tenant=r.tenant,
        )
        if r.profile is not None:
            out.profile = r.profile


def mig_solution_to_proto(solution: MigSolution | None, response: Any) -> None:
    for p in solution.plans if solution is not None else ():
        plan = response.plans.add(gpu_id=p.gpu_id, destroy=list(p.destroy))
        for m in p.create:
            plan.create.add(instance_id=m.instance_id, profile=m.profile, start_slice=m.start_slice)
        plan.assignments.update(p.assignments)


def mig_solution_from_proto(response: Any, prefix: str) -> MigSolution:
    plans = []
    for p in response.plans:
        create = tuple(MigInstance(m.instance_id, m.profile, m.start_slice) for m in p.create)
        plans.append(MigGpuPlan(p.gpu_id, tuple(p.destroy), create, dict(p.assignments)))
    return MigSolution(tuple(plans))


# Sensitivity-aware model placement.


def models_from_proto(
    msg: gpu_pb2.ModelPlacementProblem, path: str, limits: Limits
) -> ModelPlacement:
    count(msg.gpus, f"{path}.gpus", limits.max_nodes)
    count(msg.partitions, f"{path}.partitions", limits.max_items)
    gpus = tuple(
        GpuDevice(
            text(g.gpu_id, f"{path}.gpus[{i}].gpu_id"),
            number(g.memory_gb, f"{path}.gpus[{i}].memory_gb", positive=True),
        )
        for i, g in enumerate(msg.gpus)
    )
    parts = []
    for i, p in enumerate(msg.partitions):
        w = f"{path}.partitions[{i}]"
        weight = number(p.weight, f"{w}.weight", positive=True) if p.HasField("weight") else 1.0
        parts.append(
            ModelPartition(
                text(p.partition_id, f"{w}.partition_id"),
                text(p.model, f"{w}.model"),
                number(p.memory_gb, f"{w}.memory_gb"),
                number(p.sensitivity, f"{w}.sensitivity"),
                weight,
            )
        )
    kw: dict[str, Any] = {}
    if msg.HasField("max_devices_per_model"):
        if msg.max_devices_per_model < 1:
            raise DomainError(f"{path}.max_devices_per_model", "must be at least 1")
        kw["max_devices_per_model"] = int(msg.max_devices_per_model)
    with within(path):
        return ModelPlacement(gpus, tuple(parts), **kw)


def models_to_proto(problem: ModelPlacement, msg: gpu_pb2.ModelPlacementProblem) -> None:
    for g in problem.gpus:
        msg.gpus.add(gpu_id=g.gpu_id, memory_gb=g.memory_gb)
    for p in problem.partitions:
        msg.partitions.add(
            partition_id=p.partition_id,
            model=p.model,
            memory_gb=p.memory_gb,
            sensitivity=p.sensitivity,
            weight=p.weight,
        )
    msg.max_devices_per_model = problem.max_devices_per_model


def models_solution_to_proto(solution: ModelPlacementSolution | None, response: Any) -> None:
    if solution is not None:
        response.placement.update(solution.placement)


def models_solution_from_proto(response: Any, prefix: str) -> ModelPlacementSolution:
    return ModelPlacementSolution(dict(response.placement))
