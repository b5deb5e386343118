"""Kubernetes selectors and required affinity, from pod specs to the model.

- ``labelSelector`` (``matchLabels``, ``matchExpressions`` with ``In``,
  ``NotIn``, ``Exists``, ``DoesNotExist``) -> :class:`LabelSelector`.
- Required pod (anti-)affinity terms -> :class:`AffinityTerm`. ``namespaces``
  are kept; an empty ``namespaceSelector`` (``{}``, all namespaces) becomes
  every namespace of the snapshot; a non-empty one needs namespace labels,
  which ``kubectl get nodes,pods`` does not carry, and is refused.
  ``matchLabelKeys``/``mismatchLabelKeys`` are merged into the selector with
  the pod's own label values (``In``/``NotIn``), as the API server does. An
  anti-affinity term without ``labelSelector`` selects nothing and is
  dropped; an affinity term without one could never be met and is refused.
- Required node affinity (``nodeSelectorTerms``, ORed; ``matchExpressions``
  and ``matchFields`` ANDed within a term): a single term of single-value
  ``In`` expressions is exactly a nodeSelector and is merged into it; any
  other form is kept as :class:`NodeAffinity` and evaluated on the snapshot's
  nodes by :func:`node_affinity_matches` (the loader turns it into a label).
Preferred (soft) terms do not constrain placement and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optsched.errors import DomainError
from optsched.model import AffinityTerm, LabelSelector, SelectorRequirement

LABEL_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
NODE_OPERATORS = (*LABEL_OPERATORS, "Gt", "Lt")
NAME_FIELD = "metadata.name"  # the one field matchFields supports


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DomainError(where, f"must be an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DomainError(where, f"must be a list, got {type(value).__name__}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = _list(value, where)
    if not all(isinstance(v, str) for v in items):
        raise DomainError(where, "must be a list of strings")
    return tuple(items)


def string_map(value: Any, where: str) -> dict[str, str]:
    out = dict(_mapping(value, where))
    for k, v in out.items():
        if not isinstance(v, str):
            raise DomainError(f"{where}.{k}", f"must be a string, got {v!r}")
    return out


@dataclass(frozen=True)
class NodeRequirement:
    """A node selector requirement; unlike label selectors it allows ``Gt``
    and ``Lt`` (integer comparison of the label value)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()


def _requirement(raw: Any, where: str, operators: tuple[str, ...]) -> NodeRequirement:
    raw = _mapping(raw, where)
    key, op = raw.get("key"), raw.get("operator")
    if not isinstance(key, str) or not key:
        raise DomainError(f"{where}.key", "must be a non-empty string")
    if op not in operators:
        raise DomainError(f"{where}.operator", f"unsupported operator {op!r}; known: {operators}")
    values = _strings(raw.get("values"), f"{where}.values")
    if op in ("In", "NotIn") and not values:
        raise DomainError(f"{where}.values", f"{op} needs at least one value")
    if op in ("Gt", "Lt") and (len(values) != 1 or not values[0].lstrip("-").isdigit()):
        raise DomainError(f"{where}.values", f"{op} needs exactly one integer value")
    return NodeRequirement(key, op, values)


def _label_requirement(raw: Any, where: str) -> SelectorRequirement:
    req = _requirement(raw, where, LABEL_OPERATORS)
    return SelectorRequirement(req.key, req.operator, req.values)


def label_selector(raw: Any, where: str) -> LabelSelector:
    raw = _mapping(raw, where)
    expressions = _list(raw.get("matchExpressions"), f"{where}.matchExpressions")
    return LabelSelector(
        string_map(raw.get("matchLabels"), f"{where}.matchLabels"),
        tuple(
            _label_requirement(e, f"{where}.matchExpressions[{i}]")
            for i, e in enumerate(expressions)
        ),
    )


def _with_label_keys(
    selector: LabelSelector, raw: Mapping[str, Any], labels: Mapping[str, str], where: str
) -> LabelSelector:
    extra = list(selector.match_expressions)
    for field, op in (("matchLabelKeys", "In"), ("mismatchLabelKeys", "NotIn")):
        for key in _strings(raw.get(field), f"{where}.{field}"):
            if key in labels:
                extra.append(SelectorRequirement(key, op, (labels[key],)))
    return LabelSelector(selector.match_labels, tuple(extra))


def _pod_term(
    raw: Any, where: str, labels: Mapping[str, str], all_namespaces: tuple[str, ...]
) -> AffinityTerm:
    raw = _mapping(raw, where)
    key = raw.get("topologyKey")
    if not isinstance(key, str) or not key:
        raise DomainError(f"{where}.topologyKey", "must be a non-empty string")
    selector = label_selector(raw["labelSelector"], f"{where}.labelSelector")
    selector = _with_label_keys(selector, raw, labels, where)
    namespaces = _strings(raw.get("namespaces"), f"{where}.namespaces")
    ns_selector = raw.get("namespaceSelector")
    if ns_selector is not None:
        if _mapping(ns_selector, f"{where}.namespaceSelector"):
            raise DomainError(
                f"{where}.namespaceSelector",
                "a non-empty namespaceSelector needs namespace labels, which "
                "`kubectl get nodes,pods` output does not carry",
            )
        namespaces = all_namespaces
    return AffinityTerm(selector, key, tuple(sorted(set(namespaces))))


def pod_affinity_terms(
    affinity: Mapping[str, Any],
    which: str,
    where: str,
    labels: Mapping[str, str],
    all_namespaces: tuple[str, ...],
) -> tuple[AffinityTerm, ...]:
    """Required terms of ``which`` (``podAffinity`` or ``podAntiAffinity``)."""
    block = _mapping(affinity.get(which), f"{where}.{which}")
    field = f"{where}.{which}.requiredDuringSchedulingIgnoredDuringExecution"
    terms = []
    for i, raw in enumerate(
        _list(block.get("requiredDuringSchedulingIgnoredDuringExecution"), field)
    ):
        if _mapping(raw, f"{field}[{i}]").get("labelSelector") is None:
            if which == "podAffinity":
                raise DomainError(f"{field}[{i}].labelSelector", "missing: the term matches no pod")
            continue
        terms.append(_pod_term(raw, f"{field}[{i}]", labels, all_namespaces))
    return tuple(terms)


@dataclass(frozen=True)
class NodeTerm:
    expressions: tuple[NodeRequirement, ...]
    fields: tuple[NodeRequirement, ...]


@dataclass(frozen=True)
class NodeAffinity:
    """Required node affinity that no nodeSelector expresses: terms ORed."""

    terms: tuple[NodeTerm, ...]


def _node_term(raw: Any, where: str) -> NodeTerm:
    raw = _mapping(raw, where)
    exprs = _list(raw.get("matchExpressions"), f"{where}.matchExpressions")
    fields = _list(raw.get("matchFields"), f"{where}.matchFields")
    parsed_fields = tuple(
        _requirement(f, f"{where}.matchFields[{i}]", ("In", "NotIn")) for i, f in enumerate(fields)
    )
    for i, f in enumerate(parsed_fields):
        if f.key != NAME_FIELD:
            raise DomainError(f"{where}.matchFields[{i}].key", f"only {NAME_FIELD!r} is supported")
    return NodeTerm(
        tuple(
            _requirement(e, f"{where}.matchExpressions[{i}]", NODE_OPERATORS)
            for i, e in enumerate(exprs)
        ),
        parsed_fields,
    )


def node_affinity(
    affinity: Mapping[str, Any], where: str
) -> tuple[dict[str, str], NodeAffinity | None]:
    """The required node affinity as an exact nodeSelector, or as terms."""
    block = _mapping(affinity.get("nodeAffinity"), f"{where}.nodeAffinity")
    field = f"{where}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    required = _mapping(block.get("requiredDuringSchedulingIgnoredDuringExecution"), field)
    if not required:
        return {}, None
    raw_terms = _list(required.get("nodeSelectorTerms"), f"{field}.nodeSelectorTerms")
    if not raw_terms:
        raise DomainError(f"{field}.nodeSelectorTerms", "must list at least one term")
    terms = tuple(_node_term(t, f"{field}.nodeSelectorTerms[{i}]") for i, t in enumerate(raw_terms))
    only = terms[0]
    keys = [e.key for e in only.expressions]
    exact = (
        len(terms) == 1
        and not only.fields
        and only.expressions
        and len(set(keys)) == len(keys)
        and all(e.operator == "In" and len(e.values) == 1 for e in only.expressions)
    )
    if exact:
        return {e.key: e.values[0] for e in only.expressions}, None
    return {}, NodeAffinity(terms)


def _holds(req: NodeRequirement, value: str | None) -> bool:
    if req.operator == "In":
        return value is not None and value in req.values
    if req.operator == "NotIn":
        return value is None or value not in req.values
    if req.operator == "Exists":
        return value is not None
    if req.operator == "DoesNotExist":
        return value is None
    if value is None or not value.lstrip("-").isdigit():
        return False  # Gt/Lt need an integer label value
    bound = int(req.values[0])
    return int(value) > bound if req.operator == "Gt" else int(value) < bound


def node_affinity_matches(affinity: NodeAffinity, name: str, labels: Mapping[str, str]) -> bool:
    """Kubernetes semantics: some term holds; an empty term holds nowhere."""
    for term in affinity.terms:
        if not term.expressions and not term.fields:
            continue
        if all(_holds(e, labels.get(e.key)) for e in term.expressions) and all(
            _holds(f, name) for f in term.fields
        ):
            return True
    return False
