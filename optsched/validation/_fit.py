"""Node-fit predicates with Kubernetes semantics, re-derived for the
validator from the raw label, taint and selector fields (the model's own
matching helpers are deliberately not used, so a bug there cannot hide here).

Sources: Kubernetes scheduler plugins ``nodeaffinity`` (nodeSelector is an
exact label match), ``tainttoleration`` (only ``NoSchedule`` and
``NoExecute`` taints filter; ``PreferNoSchedule`` only scores) and the
``Toleration.ToleratesTaint`` rules of ``k8s.io/api/core/v1``.
"""

from __future__ import annotations

from collections.abc import Mapping

from optsched.model.cluster import Item, Node
from optsched.model.labels import HOSTNAME_KEY, LabelSelector, Taint, Toleration

BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


def node_label(node: Node, key: str) -> str | None:
    """The node's value for ``key``; the hostname label defaults to the name
    (the kubelet sets ``kubernetes.io/hostname`` on every node)."""
    if key in node.labels:
        return node.labels[key]
    return node.name if key == HOSTNAME_KEY else None


def selector_misses(item: Item, node: Node) -> list[str]:
    """``key=value`` pairs of the item's nodeSelector the node lacks."""
    return [f"{k}={v}" for k, v in item.node_selector.items() if node_label(node, k) != v]


def _tolerates(tol: Toleration, taint: Taint) -> bool:
    if tol.effect and tol.effect != taint.effect:
        return False
    if tol.operator == "Exists":
        return tol.key == "" or tol.key == taint.key
    return tol.key == taint.key and tol.value == taint.value


def untolerated_taints(item: Item, node: Node) -> list[Taint]:
    """The node's blocking taints that no toleration of the item tolerates."""
    return [
        t
        for t in node.taints
        if t.effect in BLOCKING_EFFECTS and not any(_tolerates(tol, t) for tol in item.tolerations)
    ]


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """``matchLabels`` AND every ``matchExpressions`` requirement."""
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for req in selector.match_expressions:
        value = labels.get(req.key)
        ok = {
            "In": value is not None and value in req.values,
            "NotIn": value is None or value not in req.values,
            "Exists": value is not None,
            "DoesNotExist": value is None,
        }[req.operator]
        if not ok:
            return False
    return True
