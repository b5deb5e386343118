"""Latency budgets: a duration that starts counting when it is created."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from optsched.errors import DomainError


@dataclass(frozen=True)
class Budget:
    seconds: float
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int | float):
            raise DomainError("budget", "must be a number of seconds")
        if math.isnan(self.seconds) or self.seconds <= 0:
            raise DomainError("budget", f"must be a positive number of seconds, got {self.seconds}")

    @property
    def deadline(self) -> float:
        return self.started + self.seconds

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def fraction(self, share: float) -> Budget:
        """A sub-budget of ``share`` of what is left, starting now."""
        return Budget(max(1e-3, self.remaining() * share))
