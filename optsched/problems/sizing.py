"""Backend sizing (Swayam, Gujarati et al., Middleware 2017): how many
backends each model needs so that a share ``sl_min`` of its requests complete
within ``rt_max_ms`` even if the request rate rises by ``burst_factor``.

Source: /work/shared/papers/swayam-middleware-2017-slides.txt ("SLA-aware
resource estimation": response-time threshold RT_max, service level SL_min,
burst threshold U; n = minimum number of backends).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from optsched.errors import DomainError
from optsched.problems.base import ProblemKind

# Fewer observed execution times than this and a maximum-likelihood fit of the
# log-normal's two parameters is too noisy to size an SLA at the 99th
# percentile; the floor is a named choice of this project, not a paper value.
MIN_SERVICE_SAMPLES = 30
DEFAULT_MAX_BACKENDS = 1000


def _check_positive(value: float, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DomainError(field, f"must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise DomainError(field, f"must be a positive finite number, got {value}")


@dataclass(frozen=True)
class ModelSla:
    """One model's demand and SLA.

    ``arrival_rate_per_s`` is the (predicted) global request rate L;
    ``service_times_ms`` are observed execution times, at least
    :data:`MIN_SERVICE_SAMPLES` of them; the SLA asks that a share ``sl_min``
    of requests finish within ``rt_max_ms`` at rate ``burst_factor`` x L.
    """

    name: str
    arrival_rate_per_s: float
    service_times_ms: tuple[float, ...]
    rt_max_ms: float
    sl_min: float = 0.99
    burst_factor: float = 2.0

    def __post_init__(self) -> None:
        where = f"models[{self.name}]"
        if not self.name:
            raise DomainError("models[].name", "must be a non-empty string")
        _check_positive(self.arrival_rate_per_s, f"{where}.arrival_rate_per_s")
        object.__setattr__(self, "service_times_ms", tuple(float(s) for s in self.service_times_ms))
        self._check_samples(where)
        _check_positive(self.rt_max_ms, f"{where}.rt_max_ms")
        if self.rt_max_ms <= self.service_floor_ms:
            raise DomainError(
                f"{where}.rt_max_ms",
                f"{self.rt_max_ms} ms is not above the service-time floor "
                f"(fastest observed request: {self.service_floor_ms} ms)",
            )
        if not (isinstance(self.sl_min, int | float) and 0.0 < self.sl_min < 1.0):
            raise DomainError(
                f"{where}.sl_min", f"must lie strictly between 0 and 1, got {self.sl_min}"
            )
        _check_positive(self.burst_factor, f"{where}.burst_factor")
        if self.burst_factor < 1.0:
            raise DomainError(
                f"{where}.burst_factor", f"must be at least 1, got {self.burst_factor}"
            )

    def _check_samples(self, where: str) -> None:
        field = f"{where}.service_times_ms"
        if len(self.service_times_ms) < MIN_SERVICE_SAMPLES:
            raise DomainError(
                field,
                f"needs at least {MIN_SERVICE_SAMPLES} samples, got {len(self.service_times_ms)}",
            )
        for i, s in enumerate(self.service_times_ms):
            if not math.isfinite(s) or s <= 0:
                raise DomainError(f"{field}[{i}]", f"must be a positive finite duration, got {s}")

    @property
    def service_floor_ms(self) -> float:
        """The fastest observed execution time: no request can beat it."""
        return min(self.service_times_ms)


@dataclass(frozen=True)
class BackendSizing:
    """Size every model's backend pool. Objective: for each model the minimum
    number of backends n <= ``max_backends`` with P(response time <=
    RT_max) >= SL_min under the response-time model; total backends as the
    objective value."""

    kind: ClassVar[ProblemKind] = ProblemKind.BACKEND_SIZING

    models: tuple[ModelSla, ...]
    max_backends: int = DEFAULT_MAX_BACKENDS

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        if not self.models:
            raise DomainError("models", "must list at least one model")
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DomainError("models", f"duplicate model names: {', '.join(dupes)}")
        if (
            isinstance(self.max_backends, bool)
            or not isinstance(self.max_backends, int)
            or self.max_backends < 1
        ):
            raise DomainError(
                "max_backends", f"must be a positive integer, got {self.max_backends!r}"
            )

    def size(self) -> int:
        return len(self.models)
