"""GPU problems: MIG partition placement and sensitivity-aware model placement.

Both are frozen dataclasses checked on construction (bad input raises
:class:`~optsched.errors.DomainError` naming the field); their answers travel
in :attr:`optsched.results.SolveResult.solution` as :class:`MigSolution` and
:class:`ModelPlacementSolution`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from optsched.errors import DomainError
from optsched.model.cluster import Gpu, MigInstance
from optsched.model.mig import GpuModelSpec, MigProfile, gpu_model, load_catalog
from optsched.problems.base import ProblemKind


@dataclass(frozen=True)
class MigRequest:
    """A request for one MIG instance: either a named ``profile`` or a
    minimum (``min_memory_gb``, ``min_compute_slices``), in which case the
    instance gets the smallest fitting plain profile of the GPU model it
    lands on (:meth:`GpuModelSpec.smallest_fitting`)."""

    request_id: str
    profile: str | None = None
    min_memory_gb: float = 0.0
    min_compute_slices: int = 0
    priority: int = 0
    tenant: str = ""

    def __post_init__(self) -> None:
        where = f"requests[{self.request_id}]"
        if not isinstance(self.request_id, str) or not self.request_id:
            raise DomainError("requests.request_id", "must be a non-empty string")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise DomainError(f"{where}.priority", "must be an integer")
        by_min = self.min_memory_gb > 0 or self.min_compute_slices > 0
        if self.profile is not None and by_min:
            raise DomainError(
                f"{where}.profile", "give a profile or a minimum memory/compute, not both"
            )
        if self.profile is None and not by_min:
            raise DomainError(f"{where}.profile", "give a profile or a minimum memory/compute")
        if not math.isfinite(self.min_memory_gb) or self.min_memory_gb < 0:
            raise DomainError(f"{where}.min_memory_gb", "must be a finite number >= 0")
        if (
            isinstance(self.min_compute_slices, bool)
            or not isinstance(self.min_compute_slices, int)
            or self.min_compute_slices < 0
        ):
            raise DomainError(f"{where}.min_compute_slices", "must be an integer >= 0")
        if self.profile is not None and not any(
            m.profile(self.profile) for m in load_catalog().values()
        ):
            raise DomainError(
                f"{where}.profile", f"no GPU model in the catalog has profile {self.profile!r}"
            )

    def resolve(self, spec: GpuModelSpec) -> MigProfile | None:
        """The profile this request gets on a GPU of model ``spec`` (None
        when the model cannot serve it)."""
        if self.profile is not None:
            return spec.profile(self.profile)
        return spec.smallest_fitting(self.min_memory_gb, self.min_compute_slices)


def check_layout(spec: GpuModelSpec, instances: tuple[MigInstance, ...], where: str) -> None:
    """Raise DomainError unless ``instances`` is a valid layout of ``spec``."""
    used = 0
    counts: dict[str, int] = {}
    media = compute = 0
    for inst in instances:
        p = spec.profile(inst.profile)
        iw = f"{where}.instances[{inst.instance_id}]"
        if p is None:
            raise DomainError(f"{iw}.profile", f"{spec.name} has no profile {inst.profile!r}")
        if inst.start_slice not in p.starts:
            raise DomainError(
                f"{iw}.start_slice",
                f"{p.name} may start at {list(p.starts)}, not {inst.start_slice}",
            )
        if used & p.mask(inst.start_slice):
            raise DomainError(f"{iw}.start_slice", "overlaps another instance's memory slices")
        used |= p.mask(inst.start_slice)
        counts[p.name] = counts.get(p.name, 0) + 1
        if counts[p.name] > p.max_count:
            raise DomainError(f"{iw}.profile", f"more than {p.max_count} instances of {p.name}")
        media += p.media_extensions
        compute += p.compute_slices
    if media > spec.max_media_extension_instances:
        raise DomainError(f"{where}.instances", "too many media-extension instances")
    if compute > spec.compute_slices:
        raise DomainError(f"{where}.instances", "more compute slices than the GPU has")


@dataclass(frozen=True)
class GpuPartitionPlacement:
    """Place MIG instance requests on GPUs.

    Fixed: busy instances (never destroyed or moved). Free to change: idle
    instances may be reused for a request of their profile, kept, or
    destroyed to make room (destroyed before anything is created).

    Objective, lexicographic: (1) for each priority from the highest down,
    the number of requests placed at that priority; (2) fewest GPUs used (a
    GPU is used when it hosts a busy instance or serves a request); (3)
    fewest reconfigured GPUs among those with busy instances (a GPU is
    reconfigured when the plan creates or destroys any instance on it);
    (4) fewest idle instances destroyed.
    """

    kind: ClassVar[ProblemKind] = ProblemKind.GPU_PARTITION_PLACEMENT

    gpus: tuple[Gpu, ...]
    requests: tuple[MigRequest, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "gpus", tuple(self.gpus))
        object.__setattr__(self, "requests", tuple(self.requests))
        seen: set[str] = set()
        inst_ids: set[str] = set()
        for i, g in enumerate(self.gpus):
            if not g.gpu_id or g.gpu_id in seen:
                raise DomainError(f"gpus[{i}].gpu_id", f"missing or duplicate GPU id {g.gpu_id!r}")
            seen.add(g.gpu_id)
            spec = gpu_model(g.model, f"gpus[{g.gpu_id}].model")
            for inst in g.instances:
                if not inst.instance_id or inst.instance_id in inst_ids:
                    raise DomainError(
                        f"gpus[{g.gpu_id}].instances",
                        f"missing or duplicate instance id {inst.instance_id!r}",
                    )
                inst_ids.add(inst.instance_id)
            check_layout(spec, g.instances, f"gpus[{g.gpu_id}]")
        req_ids = [r.request_id for r in self.requests]
        if len(set(req_ids)) != len(req_ids):
            raise DomainError("requests.request_id", "duplicate request id")

    def size(self) -> int:
        return len(self.gpus) + len(self.requests)


@dataclass(frozen=True)
class MigGpuPlan:
    """What to do on one GPU: destroy these idle instances (in this order),
    then create these instances (in this order, exact start slices), then
    hand ``assignments`` (request id -> instance id, created or reused) to
    the requesters."""

    gpu_id: str
    destroy: tuple[str, ...] = ()
    create: tuple[MigInstance, ...] = ()
    assignments: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MigSolution:
    plans: tuple[MigGpuPlan, ...] = ()

    def assignments(self) -> dict[str, tuple[str, str]]:
        """request id -> (gpu id, instance id)."""
        return {r: (p.gpu_id, i) for p in self.plans for r, i in p.assignments.items()}


@dataclass(frozen=True)
class GpuDevice:
    gpu_id: str
    memory_gb: float


@dataclass(frozen=True)
class ModelPartition:
    """One partition of a served model (a pipeline stage): its memory need
    and its frequency-sensitivity score (-dLatency/dFrequency, normalised;
    μ-Serve, Qiu 2024 dissertation, footnote 13 and Sec. 6.3.1). ``weight``
    weighs it in a device's mean sensitivity (Alg. 6.2's weighted average;
    the operator count, for instance)."""

    partition_id: str
    model: str
    memory_gb: float
    sensitivity: float
    weight: float = 1.0


@dataclass(frozen=True)
class ModelPlacement:
    """Place model partitions on GPUs (μ-Serve, Sec. 6.3.2).

    Limits: each GPU's memory; a model spreads over at most
    ``max_devices_per_model`` (CT) distinct GPUs; a model is placed whole
    (all its partitions) or not at all. Objective, lexicographic: (1) most
    partitions placed; (2) least sum over GPUs of the highest sensitivity
    placed there (the clock of a GPU can only drop as far as its most
    sensitive tenant allows).
    """

    kind: ClassVar[ProblemKind] = ProblemKind.MODEL_PLACEMENT

    gpus: tuple[GpuDevice, ...]
    partitions: tuple[ModelPartition, ...]
    max_devices_per_model: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "gpus", tuple(self.gpus))
        object.__setattr__(self, "partitions", tuple(self.partitions))
        if (
            isinstance(self.max_devices_per_model, bool)
            or not isinstance(self.max_devices_per_model, int)
            or self.max_devices_per_model < 1
        ):
            raise DomainError("max_devices_per_model", "must be an integer >= 1")
        ids = [g.gpu_id for g in self.gpus]
        if len(set(ids)) != len(ids) or not all(ids):
            raise DomainError("gpus.gpu_id", "missing or duplicate GPU id")
        for g in self.gpus:
            if not math.isfinite(g.memory_gb) or g.memory_gb <= 0:
                raise DomainError(f"gpus[{g.gpu_id}].memory_gb", "must be a positive finite number")
        pids = [p.partition_id for p in self.partitions]
        if len(set(pids)) != len(pids) or not all(pids):
            raise DomainError("partitions.partition_id", "missing or duplicate partition id")
        for p in self.partitions:
            w = f"partitions[{p.partition_id}]"
            if not p.model:
                raise DomainError(f"{w}.model", "must be a non-empty string")
            for name in ("memory_gb", "sensitivity", "weight"):
                v = getattr(p, name)
                if (
                    isinstance(v, bool)
                    or not isinstance(v, int | float)
                    or not math.isfinite(v)
                    or v < 0
                ):
                    raise DomainError(f"{w}.{name}", f"must be a finite number >= 0, got {v!r}")
            if p.weight <= 0:
                raise DomainError(f"{w}.weight", "must be > 0")

    def size(self) -> int:
        return len(self.gpus) + len(self.partitions)

    def models(self) -> dict[str, list[ModelPartition]]:
        out: dict[str, list[ModelPartition]] = {}
        for p in self.partitions:
            out.setdefault(p.model, []).append(p)
        return out


@dataclass(frozen=True)
class ModelPlacementSolution:
    """partition id -> GPU id, for the placed partitions."""

    placement: Mapping[str, str] = field(default_factory=dict)
