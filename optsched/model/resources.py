"""Resource vectors: named, non-negative integer quantities with the unit in
the name (``cpu_millis``, ``memory_mib``, ``cpu_cores``, ``memory_mb``,
``gpu_count``, ``pods``).

Quantities are integers so that capacity checks are exact and CP-SAT models
need no scaling; importers convert foreign units (Kubernetes ``500m``/``1Gi``)
rounding requests up and capacities down.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from optsched.errors import DomainError

# Instance attribute (outside the dataclass fields, so not part of equality,
# hashing or repr) marking a vector whose quantities were checked on creation.
_CHECKED = "_checked"

CPU_MILLIS = "cpu_millis"
MEMORY_MIB = "memory_mib"
GPU_COUNT = "gpu_count"
PODS = "pods"
CPU_CORES = "cpu_cores"
MEMORY_MB = "memory_mb"


def check_quantity(value: Any, field_name: str) -> int:
    """Return ``value`` as an int, or raise a DomainError naming ``field_name``.

    Accepts ints and integral finite floats; refuses bools, NaN, infinities,
    negative and fractional values.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DomainError(field_name, f"must be a number, got {type(value).__name__}")
    if isinstance(value, float):
        if math.isnan(value):
            raise DomainError(field_name, "must not be NaN")
        if math.isinf(value):
            raise DomainError(field_name, "must be finite")
        if not value.is_integer():
            raise DomainError(field_name, f"must be a whole number of units, got {value}")
        value = int(value)
    if value < 0:
        raise DomainError(field_name, f"must not be negative, got {value}")
    return int(value)


@dataclass(frozen=True)
class Resources(Mapping[str, int]):
    """An immutable mapping resource name -> integer quantity. Missing
    resources read as 0."""

    quantities: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls, values: Mapping[str, Any] | None = None, *, where: str = "resources", **kw: Any
    ) -> Resources:
        merged: dict[str, Any] = dict(values or {})
        merged.update(kw)
        checked: dict[str, int] = {}
        for name, qty in merged.items():
            if not isinstance(name, str) or not name:
                raise DomainError(where, f"resource names must be non-empty strings, got {name!r}")
            if type(qty) is int and qty >= 0:  # the common case, without building the path
                checked[name] = qty
            else:
                checked[name] = check_quantity(qty, f"{where}.{name}")
        res = cls(dict(sorted(checked.items())))
        object.__setattr__(res, _CHECKED, True)
        return res

    def __getitem__(self, key: str) -> int:
        return self.quantities.get(key, 0)

    def __iter__(self) -> Iterator[str]:
        return iter(self.quantities)

    def __len__(self) -> int:
        return len(self.quantities)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.quantities.items())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        keys = set(self.quantities) | set(other)
        return all(self[k] == other.get(k, 0) for k in keys)

    def __add__(self, other: Mapping[str, int]) -> Resources:
        keys = set(self.quantities) | set(other)
        return Resources({k: self[k] + int(other.get(k, 0)) for k in sorted(keys)})

    def __sub__(self, other: Mapping[str, int]) -> dict[str, int]:
        """Difference as a plain dict (may be negative)."""
        keys = set(self.quantities) | set(other)
        return {k: self[k] - int(other.get(k, 0)) for k in sorted(keys)}

    def scaled(self, num: int, den: int = 1) -> Resources:
        return Resources({k: v * num // den for k, v in self.quantities.items()})

    def fits_in(self, free: Mapping[str, int]) -> bool:
        return all(v <= free.get(k, 0) for k, v in self.quantities.items() if v > 0)


def checked_resources(quantities: dict[str, int]) -> Resources:
    """A vector over ``quantities``, which the caller has checked as
    :meth:`Resources.of` does (non-empty names, non-negative ints, sorted by
    name) and hands over; the model's constructors take it without checking
    it again."""
    res = Resources(quantities)
    object.__setattr__(res, _CHECKED, True)
    return res


def is_checked(res: Resources) -> bool:
    """Whether ``res`` was built from checked quantities (by :meth:`Resources.of`
    or :func:`checked_resources`); one built directly with ``Resources(...)``
    is not."""
    return res.__dict__.get(_CHECKED, False) is True


def resource_names(vectors: Iterable[Mapping[str, int]]) -> list[str]:
    """Sorted union of the resource names used by ``vectors``."""
    names: set[str] = set()
    for v in vectors:
        names.update(v)
    return sorted(names)
