"""PodDisruptionBudgets from ``kubectl get nodes,pods,pdb -A -o json``.

A ``PodDisruptionBudget`` (policy/v1) selects pods of its namespace by
``spec.selector`` (an empty selector selects every pod of the namespace; a
missing one selects none) and limits voluntary disruptions: the eviction
API refuses an eviction that would take the number of healthy selected pods
below the desired number. optsched counts a move as a disruption too (the
pod is evicted and recreated elsewhere).

Each budget becomes a disruption group of the snapshot: the pods it selects
get the owner ``PodDisruptionBudget/<namespace>/<name>``, and
``Snapshot.disruption_budgets`` maps that owner to the disruptions allowed
now:

* ``status.disruptionsAllowed`` when the object carries it (the disruption
  controller's own figure, which accounts for pods that are not ready);
* otherwise from the spec, as the controller computes it, over the selected
  pods of the snapshot: ``expected`` = the selected pods, ``healthy`` = those
  ``Running``; ``maxUnavailable`` (an integer, or a percentage of
  ``expected`` rounded up) gives desired = expected - maxUnavailable,
  ``minAvailable`` (an integer, or a percentage rounded up) gives desired
  directly, neither gives desired = expected (no disruption allowed);
  allowed = max(0, healthy - desired).

A pod selected by more than one budget cannot be evicted at all (the
eviction API answers an error for it), so it becomes neither movable nor
evictable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from optsched.datasets.k8s_affinity import label_selector
from optsched.errors import DomainError
from optsched.model import Item
from optsched.model.labels import LabelSelector

OWNER_PREFIX = "PodDisruptionBudget/"


@dataclass(frozen=True)
class Pdb:
    owner: str
    namespace: str
    selector: LabelSelector | None
    allowed: int | None  # status.disruptionsAllowed, when given
    min_available: int | str | None
    max_unavailable: int | str | None
    where: str


def _int_or_percent(value: Any, where: str) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise DomainError(where, f"must be an integer or a percentage, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise DomainError(where, f"must not be negative, got {value}")
        return value
    if isinstance(value, str) and value.endswith("%"):
        digits = value[:-1]
        if digits.isdigit():
            return value
    raise DomainError(where, f"must be an integer or a percentage like '50%', got {value!r}")


def _scaled(value: int | str, expected: int) -> int:
    """An integer, or a percentage of ``expected`` rounded up (as the
    disruption controller scales it)."""
    if isinstance(value, int):
        return value
    return math.ceil(int(value[:-1]) * expected / 100)


def parse_pdb(raw: Mapping[str, Any], where: str) -> Pdb:
    meta = raw.get("metadata") or {}
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    if not isinstance(meta, Mapping) or not isinstance(spec, Mapping):
        raise DomainError(where, "metadata and spec must be objects")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise DomainError(f"{where}.metadata.name", "must be a non-empty string")
    namespace = str(meta.get("namespace", "default"))
    selector = spec.get("selector")
    parsed = None if selector is None else label_selector(selector, f"{where}.spec.selector")
    min_available = _int_or_percent(spec.get("minAvailable"), f"{where}.spec.minAvailable")
    max_unavailable = _int_or_percent(spec.get("maxUnavailable"), f"{where}.spec.maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        raise DomainError(f"{where}.spec", "minAvailable and maxUnavailable are exclusive")
    allowed = status.get("disruptionsAllowed") if isinstance(status, Mapping) else None
    if allowed is not None and (
        isinstance(allowed, bool) or not isinstance(allowed, int) or allowed < 0
    ):
        raise DomainError(
            f"{where}.status.disruptionsAllowed", f"must be a non-negative integer, got {allowed!r}"
        )
    return Pdb(
        f"{OWNER_PREFIX}{namespace}/{name}",
        namespace,
        parsed,
        allowed,
        min_available,
        max_unavailable,
        where,
    )


def allowed_disruptions(pdb: Pdb, healthy: int, expected: int) -> int:
    if pdb.allowed is not None:
        return pdb.allowed
    if pdb.max_unavailable is not None:
        desired = expected - _scaled(pdb.max_unavailable, expected)
    elif pdb.min_available is not None:
        desired = _scaled(pdb.min_available, expected)
    else:
        desired = expected
    return max(0, healthy - desired)


def apply_pdbs(
    pdbs: Sequence[Pdb], items: Sequence[Item], running: Mapping[str, bool]
) -> tuple[list[Item], dict[str, int]]:
    """The items regrouped under the budgets that select them, and the
    disruptions each budget allows. ``running`` tells, per item id, whether
    the pod is ``Running`` (healthy)."""
    selected: dict[str, list[int]] = {}
    covering: list[list[Pdb]] = [[] for _ in items]
    for pdb in pdbs:
        if pdb.owner in selected:
            raise DomainError(f"{pdb.where}.metadata.name", f"duplicate budget {pdb.owner!r}")
        selected[pdb.owner] = []
        for i, item in enumerate(items):
            if (
                pdb.selector is not None
                and item.namespace == pdb.namespace
                and pdb.selector.matches(item.labels)
            ):
                selected[pdb.owner].append(i)
                covering[i].append(pdb)
    budgets = {}
    for pdb in pdbs:
        members = selected[pdb.owner]
        healthy = sum(1 for i in members if running.get(items[i].item_id, False))
        budgets[pdb.owner] = allowed_disruptions(pdb, healthy, len(members))
    out = []
    for item, cover in zip(items, covering, strict=True):
        if len(cover) == 1:
            out.append(replace(item, owner=cover[0].owner))
        elif len(cover) > 1:
            out.append(replace(item, movable=False, evictable=False))
        else:
            out.append(item)
    return out, budgets


__all__ = ["OWNER_PREFIX", "Pdb", "allowed_disruptions", "apply_pdbs", "parse_pdb"]
