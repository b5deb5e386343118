"""SolveResult <-> the ``info``/``plan``/``unplaced`` fields every solve
response carries."""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import duration_pb2

from optsched.api.v1 import types_pb2 as pb
from optsched.errors import DomainError
from optsched.model import Assignment
from optsched.results import Action, ActionKind, Plan, SolveResult, Status, Unplaced

STATUS_TO_PROTO = {
    Status.OPTIMAL: pb.SOLVE_STATUS_OPTIMAL,
    Status.FEASIBLE: pb.SOLVE_STATUS_FEASIBLE,
    Status.INFEASIBLE: pb.SOLVE_STATUS_INFEASIBLE,
    Status.NO_SOLUTION_IN_TIME: pb.SOLVE_STATUS_NO_SOLUTION_IN_TIME,
    Status.INVALID_INPUT: pb.SOLVE_STATUS_INVALID_INPUT,
}
STATUS_FROM_PROTO = {v: k for k, v in STATUS_TO_PROTO.items()}
ACTION_TO_PROTO = {
    ActionKind.EVICT: pb.ACTION_KIND_EVICT,
    ActionKind.MOVE: pb.ACTION_KIND_MOVE,
    ActionKind.PLACE: pb.ACTION_KIND_PLACE,
}
ACTION_FROM_PROTO = {v: k for k, v in ACTION_TO_PROTO.items()}


def _nanos(seconds: float) -> int:
    return round(max(0.0, seconds) * 1e9)


def duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(_nanos(seconds))
    return d


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def result_to_proto(result: SolveResult, response: Any, effective_budget_s: float) -> Any:
    """Fill ``response`` (any solve response message) from ``result``."""
    info = response.info
    info.status = STATUS_TO_PROTO[result.status]
    info.solver, info.message = result.solver, result.message
    for name in ("objective", "best_bound", "gap"):
        value = _finite(getattr(result, name))
        if value is not None:
            setattr(info, name, float(value))
    info.wall_time.FromNanoseconds(_nanos(result.wall_time_s))
    info.effective_budget.FromNanoseconds(_nanos(effective_budget_s))
    if result.plan is not None:
        actions = response.plan.actions
        for a in result.plan.actions:
            msg = actions.add(kind=ACTION_TO_PROTO[a.kind], item_id=a.item_id)
            if a.source is not None:
                _location_to_proto(a.source, msg.source)
            if a.target is not None:
                _location_to_proto(a.target, msg.target)
    for u in result.unplaced:
        response.unplaced.add(item_id=u.item_id, reason=u.reason)
    return response


def _location_to_proto(a: Assignment, msg: pb.Location) -> None:
    msg.node = a.node  # sets the field's presence even for an empty name, as before
    if a.numa:
        msg.numa[:] = list(a.numa)


def _location(msg: pb.Action, name: str, path: str) -> Assignment | None:
    if not msg.HasField(name):  # type: ignore[arg-type]
        return None
    loc = getattr(msg, name)
    if not loc.node:
        raise DomainError(f"{path}.{name}.node", "must not be empty")
    return Assignment(loc.node, tuple(loc.numa))


def result_from_proto(response: Any, path: str = "") -> SolveResult:
    """The SolveResult a solve response describes (for the validator and
    for clients); structural errors name the field."""
    prefix = f"{path}." if path else ""
    info = response.info
    if info.status not in STATUS_FROM_PROTO:
        raise DomainError(f"{prefix}info.status", "must be a known, specified status")
    actions = []
    has_plan = "plan" in response.DESCRIPTOR.fields_by_name
    for i, a in enumerate(response.plan.actions if has_plan else ()):
        where = f"{prefix}plan.actions[{i}]"
        if a.kind not in ACTION_FROM_PROTO:
            raise DomainError(f"{where}.kind", "must be EVICT, MOVE or PLACE")
        if not a.item_id:
            raise DomainError(f"{where}.item_id", "must not be empty")
        kind = ACTION_FROM_PROTO[a.kind]
        actions.append(
            Action(kind, a.item_id, _location(a, "source", where), _location(a, "target", where))
        )
    status = STATUS_FROM_PROTO[info.status]
    return SolveResult(
        status=status,
        solver=info.solver,
        plan=Plan(tuple(actions)) if has_plan and (status.has_solution or actions) else None,
        objective=info.objective if info.HasField("objective") else None,
        best_bound=info.best_bound if info.HasField("best_bound") else None,
        wall_time_s=info.wall_time.ToNanoseconds() / 1e9,
        unplaced=tuple(Unplaced(u.item_id, u.reason) for u in response.unplaced),
        message=info.message,
    )
