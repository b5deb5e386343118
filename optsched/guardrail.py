"""Guard-rails for learned solvers (the AWARE/FLASH idea in Qiu's
dissertation, 2024: a learned policy earns the right to serve and loses it
when it degrades or sees out-of-distribution input).

A :class:`GuardRail` keeps the learned solver's recent optimality gaps,
measured whenever the exact solver also ran on the same problem (the
portfolio's fallback "learned -> CP-SAT hinted with the learned answer" gives
that measurement for free). States:

* ``SERVING``: the mean gap over the window is within ``max_gap``;
* ``SUSPENDED``: it is not; the learned solver is skipped until the exact
  solver's shadow runs bring the mean back under ``max_gap * recover_ratio``;
* out-of-distribution problems (size outside the trained range) are refused
  whatever the state.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from optsched.errors import ConfigError


class GuardState(StrEnum):
    SERVING = "SERVING"
    SUSPENDED = "SUSPENDED"


@dataclass
class GuardRail:
    max_gap: float = 0.05
    window: int = 20
    min_samples: int = 3
    recover_ratio: float = 0.5
    size_range: tuple[int, int] = (1, 1_000_000)
    state: GuardState = GuardState.SERVING
    gaps: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if not 0 < self.max_gap < 1:
            raise ConfigError(f"guard-rail max_gap must be in (0, 1), got {self.max_gap}")
        if self.window < 1 or self.min_samples < 1 or self.min_samples > self.window:
            raise ConfigError("guard-rail needs 1 <= min_samples <= window")
        self.gaps = deque(self.gaps, maxlen=self.window)

    @property
    def mean_gap(self) -> float | None:
        return sum(self.gaps) / len(self.gaps) if self.gaps else None

    def in_distribution(self, size: int) -> bool:
        lo, hi = self.size_range
        return lo <= size <= hi

    def allows(self, size: int) -> bool:
        return self.state is GuardState.SERVING and self.in_distribution(size)

    def record(self, gap: float) -> GuardState:
        """Record the learned answer's relative gap to the exact solver's
        answer or bound on one problem, and update the state."""
        self.gaps.append(max(0.0, float(gap)))
        mean = self.mean_gap
        if mean is not None and len(self.gaps) >= self.min_samples:
            if self.state is GuardState.SERVING and mean > self.max_gap:
                self.state = GuardState.SUSPENDED
            elif self.state is GuardState.SUSPENDED and mean <= self.max_gap * self.recover_ratio:
                self.state = GuardState.SERVING
        return self.state

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "gaps": list(self.gaps),
            "max_gap": self.max_gap,
            "window": self.window,
        }
