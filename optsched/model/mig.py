"""The MIG profile catalog: GPU models, their MIG profiles and placement rules.

The data is package data (``optsched/data/mig_profiles.json``, from NVIDIA's
Multi-Instance GPU User Guide, "Supported MIG Profiles"); this module only
loads and checks it. A GPU's memory is cut into ``memory_slices`` (8 on
A100/H100) and its SMs into ``compute_slices`` (7). An instance of profile
``p`` started at memory slice ``s`` occupies memory slices
``s .. s + p.memory_slices - 1``; ``s`` must be one of ``p.starts``. Two
instances on one GPU never share a memory slice, a profile appears at most
``max_count`` times, and media-extension (``+me``) profiles at most
``max_media_extension_instances`` times in total.

The validator reads the same data file on its own (it shares no code with
the solvers); this loader serves the problems and the solvers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from optsched.errors import DomainError

CATALOG_FILE = "mig_profiles.json"


@dataclass(frozen=True)
class MigProfile:
    name: str
    profile_id: int
    compute_slices: int
    memory_slices: int
    memory_gb: int
    starts: tuple[int, ...]
    max_count: int
    media_extensions: bool = False

    def slices(self, start: int) -> range:
        """The memory slices an instance started at ``start`` occupies."""
        return range(start, start + self.memory_slices)

    def mask(self, start: int) -> int:
        """The occupied memory slices as a bit mask (bit ``i`` = slice ``i``)."""
        return ((1 << self.memory_slices) - 1) << start

    @property
    def size_key(self) -> tuple[int, int, bool, str]:
        """Order from smallest to largest: memory slices, compute slices,
        plain before media-extension, then name."""
        return (self.memory_slices, self.compute_slices, self.media_extensions, self.name)


@dataclass(frozen=True)
class GpuModelSpec:
    name: str
    memory_slices: int
    compute_slices: int
    memory_gb: int
    max_media_extension_instances: int
    profiles: tuple[MigProfile, ...]

    def profile(self, name: str) -> MigProfile | None:
        for p in self.profiles:
            if p.name == name:
                return p
        return None

    def smallest_fitting(self, min_memory_gb: float, min_compute_slices: int) -> MigProfile | None:
        """The smallest plain (non-media-extension) profile with at least
        ``min_memory_gb`` and ``min_compute_slices`` (see ``size_key``)."""
        fits = [
            p
            for p in self.profiles
            if not p.media_extensions
            and p.memory_gb >= min_memory_gb
            and p.compute_slices >= min_compute_slices
        ]
        return min(fits, key=lambda p: p.size_key) if fits else None

    def placements(self) -> list[tuple[MigProfile, int]]:
        """Every (profile, start slice) pair the model allows."""
        return [(p, s) for p in self.profiles for s in p.starts]


def _int(raw: Mapping[str, Any], key: str, where: str, minimum: int = 0) -> int:
    v = raw.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise DomainError(f"{where}.{key}", f"must be an integer >= {minimum}, got {v!r}")
    return v


def _profile(raw: Mapping[str, Any], where: str, memory_slices: int) -> MigProfile:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise DomainError(f"{where}.name", "must be a non-empty string")
    size = _int(raw, "memory_slices", where, 1)
    starts = raw.get("starts")
    if not isinstance(starts, list) or not starts:
        raise DomainError(f"{where}.starts", "must be a non-empty list of slice indices")
    for s in starts:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0 or s + size > memory_slices:
            raise DomainError(
                f"{where}.starts", f"start {s!r} does not fit in {memory_slices} slices"
            )
    return MigProfile(
        name=name,
        profile_id=_int(raw, "profile_id", where),
        compute_slices=_int(raw, "compute_slices", where, 1),
        memory_slices=size,
        memory_gb=_int(raw, "memory_gb", where, 1),
        starts=tuple(sorted(starts)),
        max_count=_int(raw, "max_count", where, 1),
        media_extensions=bool(raw.get("media_extensions", False)),
    )


def parse_catalog(raw: Mapping[str, Any]) -> dict[str, GpuModelSpec]:
    models = raw.get("gpu_models")
    if not isinstance(models, Mapping) or not models:
        raise DomainError("gpu_models", "must be a non-empty mapping of GPU model name to spec")
    out: dict[str, GpuModelSpec] = {}
    for name, m in models.items():
        where = f"gpu_models[{name}]"
        mem = _int(m, "memory_slices", where, 1)
        profiles = tuple(
            _profile(p, f"{where}.profiles[{i}]", mem) for i, p in enumerate(m.get("profiles", []))
        )
        if len({p.name for p in profiles}) != len(profiles):
            raise DomainError(f"{where}.profiles", "duplicate profile name")
        out[name] = GpuModelSpec(
            name=name,
            memory_slices=mem,
            compute_slices=_int(m, "compute_slices", where, 1),
            memory_gb=_int(m, "memory_gb", where, 1),
            max_media_extension_instances=_int(m, "max_media_extension_instances", where),
            profiles=profiles,
        )
    return out


@cache
def _builtin() -> dict[str, GpuModelSpec]:
    text = resources.files("optsched").joinpath("data", CATALOG_FILE).read_text()
    return parse_catalog(json.loads(text))


def load_catalog(path: str | Path | None = None) -> dict[str, GpuModelSpec]:
    """The catalog shipped with the package, or one read from ``path``."""
    if path is None:
        return _builtin()
    return parse_catalog(json.loads(Path(path).read_text()))


def gpu_model(name: str, where: str = "gpu.model") -> GpuModelSpec:
    spec = load_catalog().get(name)
    if spec is None:
        raise DomainError(
            where, f"unknown GPU model {name!r}; known: {', '.join(sorted(load_catalog()))}"
        )
    return spec
