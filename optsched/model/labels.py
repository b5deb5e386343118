"""Label selectors, taints and tolerations, with Kubernetes semantics.

These are value objects; matching functions here are the model's own
definitions (the validator re-derives what it checks from the raw fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from optsched.errors import DomainError

HOSTNAME_KEY = "kubernetes.io/hostname"
ZONE_KEY = "topology.kubernetes.io/zone"
RACK_KEY = "optsched.io/rack"
CLUSTER_KEY = "optsched.io/cluster"

SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_OPERATORS = ("Equal", "Exists")


@dataclass(frozen=True)
class SelectorRequirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.operator not in SELECTOR_OPERATORS:
            raise DomainError("matchExpressions.operator", f"unknown operator {self.operator!r}")
        if self.operator in ("In", "NotIn") and not self.values:
            raise DomainError("matchExpressions.values", f"{self.operator} needs values")


@dataclass(frozen=True)
class LabelSelector:
    """``matchLabels`` AND ``matchExpressions``. An empty selector matches all."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[SelectorRequirement, ...] = ()

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.match_labels.items())), self.match_expressions))

    def matches(self, labels: Mapping[str, str]) -> bool:
        for k, v in self.match_labels.items():
            if labels.get(k) != v:
                return False
        for req in self.match_expressions:
            present = req.key in labels
            if req.operator == "In" and (not present or labels[req.key] not in req.values):
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
        return True


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"

    def __post_init__(self) -> None:
        if self.effect not in TAINT_EFFECTS:
            raise DomainError("taints.effect", f"unknown effect {self.effect!r}")


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""  # empty: tolerates every effect

    def __post_init__(self) -> None:
        if self.operator not in TOLERATION_OPERATORS:
            raise DomainError("tolerations.operator", f"unknown operator {self.operator!r}")

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return not self.key or self.key == taint.key
        return self.key == taint.key and self.value == taint.value


@dataclass(frozen=True)
class AffinityTerm:
    """A required pod (anti-)affinity term: the pods matched by ``selector``
    (in ``namespaces``; empty means the item's own namespace) must (affinity)
    or must not (anti-affinity) share the ``topology_key`` domain."""

    selector: LabelSelector
    topology_key: str = HOSTNAME_KEY
    namespaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.topology_key, str) or not self.topology_key:
            raise DomainError("affinity.topology_key", "must be a non-empty label key")
        object.__setattr__(self, "namespaces", tuple(self.namespaces))
