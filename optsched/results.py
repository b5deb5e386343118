"""Solve results: status, the plan, objective, bound and gap, timing, and a
reason for every item left unplaced. Infeasible and timed-out are results,
not exceptions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from optsched.model.cluster import Assignment, Snapshot


class Status(StrEnum):
    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    NO_SOLUTION_IN_TIME = "NO_SOLUTION_IN_TIME"
    INVALID_INPUT = "INVALID_INPUT"

    @property
    def has_solution(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


class ActionKind(StrEnum):
    EVICT = "evict"
    MOVE = "move"
    PLACE = "place"


@dataclass(frozen=True)
class Action:
    """One step of a plan. ``source`` is where the item is before the step
    (None for a pending item), ``target`` where it is after (None for an
    eviction)."""

    kind: ActionKind
    item_id: str
    source: Assignment | None = None
    target: Assignment | None = None


@dataclass(frozen=True)
class Plan:
    """Actions in an executable order: applied one at a time from the
    snapshot, no node or NUMA node is ever over capacity."""

    actions: tuple[Action, ...] = ()

    @property
    def evictions(self) -> list[str]:
        return [a.item_id for a in self.actions if a.kind is ActionKind.EVICT]

    @property
    def moves(self) -> list[Action]:
        return [a for a in self.actions if a.kind is ActionKind.MOVE]

    @property
    def placements(self) -> list[Action]:
        return [a for a in self.actions if a.kind is ActionKind.PLACE]

    def final_assignments(self, snapshot: Snapshot) -> dict[str, Assignment]:
        """The assignment after every action, ignoring feasibility."""
        out = dict(snapshot.assignments)
        for a in self.actions:
            if a.kind is ActionKind.EVICT:
                out.pop(a.item_id, None)
            elif a.target is not None:
                out[a.item_id] = a.target
        return out


@dataclass(frozen=True)
class Unplaced:
    """An item the answer leaves unplaced (or evicted), with a reason a
    person can act on."""

    item_id: str
    reason: str


@dataclass(frozen=True)
class SolveResult:
    status: Status
    solver: str
    plan: Plan | None = None
    solution: Any = None  # kind-specific answer for non-cluster problems
    objective: float | None = None
    best_bound: float | None = None
    wall_time_s: float = 0.0
    unplaced: tuple[Unplaced, ...] = ()
    message: str = ""
    stats: Mapping[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        """Relative gap |objective - bound| / max(|objective|, 1e-9), when both
        are known."""
        if self.objective is None or self.best_bound is None:
            return None
        return abs(self.objective - self.best_bound) / max(abs(self.objective), 1e-9)
