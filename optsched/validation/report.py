"""Validation reports: every violation, not just the first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Violation:
    """``code`` is a stable identifier (``capacity``, ``numa_capacity``,
    ``node_selector``, ``taint``, ``affinity``, ``anti_affinity``,
    ``migration_limit``, ``move_order``, ``immovable``, ``disruption_budget``,
    ``unknown_reference``, ...); ``step`` is the plan step where it happens."""

    code: str
    message: str
    item_id: str | None = None
    node: str | None = None
    step: int | None = None


@dataclass
class ValidationReport:
    violations: list[Violation] = field(default_factory=list)
    objective: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, code: str, message: str, **where: Any) -> None:
        self.violations.append(Violation(code, message, **where))

    def codes(self) -> set[str]:
        return {v.code for v in self.violations}

    def summary(self, limit: int = 5) -> str:
        if self.ok:
            return "valid"
        head = "; ".join(f"{v.code}: {v.message}" for v in self.violations[:limit])
        more = len(self.violations) - limit
        return head + (f"; and {more} more" if more > 0 else "")
