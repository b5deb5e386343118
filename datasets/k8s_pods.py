"""One Kubernetes Pod object -> an :class:`Item` (see
:mod:`optsched.datasets.kubectl` for the mapping and the mobility rules).

Effective request (Kubernetes ``resource.PodRequests``, with sidecars from
KEP-753): ``max(sum(containers) + sum(sidecars), max_i(init_i + sidecars
started before i)) + overhead``, per resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from optsched.datasets.k8s_affinity import (
    NodeAffinity,
    node_affinity,
    pod_affinity_terms,
    string_map,
)
from optsched.datasets.quantity import model_resource, parse_quantity, round_up
from optsched.errors import DomainError
from optsched.model import PODS, Item, Resources, Toleration
from optsched.model.labels import TAINT_EFFECTS, TOLERATION_OPERATORS

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
SIDECAR_RESTART_POLICY = "Always"
PINNED_OWNER_KINDS = ("DaemonSet",)  # recreated on the same node by their controller
KUBELET_OWNER_KIND = "Node"  # mirror pods of static pods are owned by their node

Amounts = dict[str, Fraction]


@dataclass(frozen=True)
class PodRecord:
    item: Item
    node_name: str | None
    node_affinity: NodeAffinity | None
    where: str


def _requests(container: Any, where: str) -> Amounts:
    if not isinstance(container, Mapping):
        raise DomainError(where, "must be an object")
    raw = (container.get("resources") or {}).get("requests") or {}
    if not isinstance(raw, Mapping):
        raise DomainError(f"{where}.resources.requests", "must be an object")
    return {k: parse_quantity(v, f"{where}.resources.requests.{k}") for k, v in raw.items()}


def _add(a: Amounts, b: Amounts) -> Amounts:
    return {k: a.get(k, Fraction(0)) + b.get(k, Fraction(0)) for k in a.keys() | b.keys()}


def _max(a: Amounts, b: Amounts) -> Amounts:
    return {k: max(a.get(k, Fraction(0)), b.get(k, Fraction(0))) for k in a.keys() | b.keys()}


def _containers(spec: Mapping[str, Any], field: str, where: str) -> list[Any]:
    value = spec.get(field) or []
    if not isinstance(value, list):
        raise DomainError(f"{where}.spec.{field}", "must be a list")
    return value


def pod_requests(spec: Mapping[str, Any], where: str) -> Amounts:
    """The effective request of a pod, exact, in Kubernetes resource names."""
    sidecars: Amounts = {}
    init_peak: Amounts = {}
    for i, c in enumerate(_containers(spec, "initContainers", where)):
        req = _requests(c, f"{where}.spec.initContainers[{i}]")
        if c.get("restartPolicy") == SIDECAR_RESTART_POLICY:
            sidecars = _add(sidecars, req)
        else:
            init_peak = _max(init_peak, _add(req, sidecars))
    main: Amounts = dict(sidecars)
    for i, c in enumerate(_containers(spec, "containers", where)):
        main = _add(main, _requests(c, f"{where}.spec.containers[{i}]"))
    overhead = spec.get("overhead") or {}
    if not isinstance(overhead, Mapping):
        raise DomainError(f"{where}.spec.overhead", "must be an object")
    extra = {k: parse_quantity(v, f"{where}.spec.overhead.{k}") for k, v in overhead.items()}
    return _add(_max(main, init_peak), extra)


def _model_requests(amounts: Amounts, where: str) -> Resources:
    out: dict[str, int] = {PODS: 1}
    for name, value in amounts.items():
        model_name, per_unit = model_resource(name)
        if model_name == PODS:
            continue  # a pod always uses exactly one pod slot
        out[model_name] = out.get(model_name, 0) + round_up(value, per_unit)
    return Resources.of(out, where=f"{where}.requests")


def _tolerations(raw: Any, where: str) -> tuple[Toleration, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise DomainError(where, "must be a list")
    out = []
    for i, t in enumerate(raw):
        if not isinstance(t, Mapping):
            raise DomainError(f"{where}[{i}]", "must be an object")
        op = t.get("operator", "Equal")
        if op not in TOLERATION_OPERATORS:
            raise DomainError(f"{where}[{i}].operator", f"unknown operator {op!r}")
        effect = t.get("effect") or ""
        if effect and effect not in TAINT_EFFECTS:
            raise DomainError(f"{where}[{i}].effect", f"unknown effect {effect!r}")
        out.append(Toleration(str(t.get("key", "")), op, str(t.get("value", "")), effect))
    return tuple(out)


def _controller(meta: Mapping[str, Any], namespace: str) -> tuple[str, str]:
    """(kind, owner id) of the controlling ownerReference, or ("", "")."""
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller"):
            kind = str(ref.get("kind", ""))
            return kind, f"{kind}/{namespace}/{ref.get('name', '')}"
    return "", ""


def _priority(spec: Mapping[str, Any], where: str) -> int:
    value = spec.get("priority", 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(f"{where}.spec.priority", f"must be an integer, got {value!r}")
    return value


def parse_pod(raw: Mapping[str, Any], where: str, all_namespaces: tuple[str, ...]) -> PodRecord:
    meta, spec = raw.get("metadata") or {}, raw.get("spec") or {}
    name, namespace = meta.get("name"), meta.get("namespace", "default")
    if not isinstance(name, str) or not name or not isinstance(namespace, str):
        raise DomainError(f"{where}.metadata.name", "a pod needs a name and a namespace")
    labels = string_map(meta.get("labels"), f"{where}.metadata.labels")
    annotations = meta.get("annotations") or {}
    kind, owner = _controller(meta, namespace)
    mirror = MIRROR_ANNOTATION in annotations or kind == KUBELET_OWNER_KIND
    pinned = mirror or kind in PINNED_OWNER_KINDS
    affinity = spec.get("affinity") or {}
    if not isinstance(affinity, Mapping):
        raise DomainError(f"{where}.spec.affinity", "must be an object")
    at = f"{where}.spec.affinity"
    selector, node_terms = node_affinity(affinity, at)
    node_selector = string_map(spec.get("nodeSelector"), f"{where}.spec.nodeSelector")
    for key, value in selector.items():
        if node_selector.get(key, value) != value:
            raise DomainError(f"{at}.nodeAffinity", f"{key}={value} contradicts the nodeSelector")
    item = Item(
        f"{namespace}/{name}",
        _model_requests(pod_requests(spec, where), where),
        priority=_priority(spec, where),
        namespace=namespace,
        owner=owner,
        labels=labels,
        movable=not pinned and bool(kind),
        evictable=not pinned,
        node_selector={**node_selector, **selector},
        tolerations=_tolerations(spec.get("tolerations"), f"{where}.spec.tolerations"),
        affinity=pod_affinity_terms(affinity, "podAffinity", at, labels, all_namespaces),
        anti_affinity=pod_affinity_terms(affinity, "podAntiAffinity", at, labels, all_namespaces),
    )
    node_name = spec.get("nodeName") or None
    if node_name is not None and not isinstance(node_name, str):
        raise DomainError(f"{where}.spec.nodeName", "must be a string")
    return PodRecord(item, node_name, node_terms, where)
