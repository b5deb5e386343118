"""Loader for ``kubectl get nodes,pods,pdb -A -o json`` output.

The document is a ``List`` (or ``NodeList``/``PodList``) whose ``items`` are
``Node``, ``Pod`` and ``PodDisruptionBudget`` objects; other kinds are
ignored. Disruption budgets become the snapshot's disruption groups
(:mod:`optsched.datasets.k8s_pdb`).

Nodes: ``status.allocatable`` (else ``status.capacity``) is the capacity,
rounded down: ``cpu`` -> ``cpu_millis``, ``memory`` -> ``memory_mib``,
``ephemeral-storage`` -> ``ephemeral_storage_mib``, ``hugepages-*`` ->
``hugepages_*_mib``, ``nvidia.com/gpu`` -> ``gpu_count``, ``pods`` ->
``pods``, and any other extended resource under its name lower-cased with
every run of other characters replaced by ``_`` (``example.com/fpga`` ->
``example_com_fpga``), as a count. ``spec.unschedulable`` (cordoned) makes
the node not schedulable; labels and taints are kept.

Pods (``Succeeded``/``Failed`` ones are gone and skipped): the item id is
``namespace/name``; the request per resource is the larger of the sum over
``containers`` (plus sidecars: init containers with ``restartPolicy:
Always``) and the largest plain init container (plus the sidecars started
before it), plus ``spec.overhead``, rounded up; every pod also uses one
``pods``. Priority, namespace, labels, nodeSelector, tolerations and required
pod (anti-)affinity are kept (:mod:`optsched.datasets.k8s_affinity`). The
controller ``ownerReference`` gives the owner ``Kind/namespace/name``.
``spec.nodeName`` places the pod; without it the pod is pending.

Mobility: a DaemonSet pod is pinned to its node (its controller recreates it
there, so moving or evicting it frees nothing): neither movable nor
evictable; a bare pod (no controller) is not movable (nothing recreates it
elsewhere) but may be evicted; a mirror (static) pod, with the
``kubernetes.io/config.mirror`` annotation or owned by its ``Node``, is
managed by the kubelet: neither movable nor evictable. ``kube-system`` pods
keep their namespace, which placement problems protect by default.

Required node affinity that is not a plain nodeSelector (several terms,
``NotIn``, ``Exists``, ``Gt``, ``matchFields``, ...) is evaluated on the
snapshot's nodes and expressed exactly, for this snapshot, as a label
``optsched.io/node-affinity-<digest>: "true"`` on the nodes it admits, which
the pod selects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from optsched.datasets.k8s_affinity import NodeAffinity, node_affinity_matches, string_map
from optsched.datasets.k8s_pdb import apply_pdbs, parse_pdb
from optsched.datasets.k8s_pods import PodRecord, parse_pod
from optsched.datasets.quantity import model_resource, parse_quantity, round_down
from optsched.errors import DomainError
from optsched.model import Assignment, Item, Node, Resources, Snapshot, Taint
from optsched.model.labels import TAINT_EFFECTS

NODE_AFFINITY_LABEL = "optsched.io/node-affinity-"
GONE_PHASES = ("Succeeded", "Failed")


def _read(source: str | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    try:
        doc = json.loads(Path(source).read_text())
    except OSError as e:
        raise DomainError("path", f"cannot read {source}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise DomainError("path", f"{source} is not JSON: {e}") from e
    if not isinstance(doc, Mapping):
        raise DomainError("path", f"{source} must hold a JSON object")
    return doc


def _taints(raw: Any, where: str) -> tuple[Taint, ...]:
    out = []
    for i, t in enumerate(raw or []):
        if not isinstance(t, Mapping) or not isinstance(t.get("key"), str):
            raise DomainError(f"{where}[{i}].key", "a taint needs a string key")
        if t.get("effect") not in TAINT_EFFECTS:
            raise DomainError(f"{where}[{i}].effect", f"unknown effect {t.get('effect')!r}")
        out.append(Taint(t["key"], str(t.get("value", "")), t["effect"]))
    return tuple(out)


def _capacity(status: Mapping[str, Any], where: str) -> Resources:
    field = "allocatable" if "allocatable" in status else "capacity"
    raw = status.get(field)
    if not isinstance(raw, Mapping):
        raise DomainError(f"{where}.status.allocatable", "missing: the node has no capacity")
    out: dict[str, int] = {}
    for name, qty in raw.items():
        model_name, per_unit = model_resource(name)
        value = parse_quantity(qty, f"{where}.status.{field}.{name}")
        out[model_name] = round_down(value, per_unit)
    return Resources.of(out, where=f"{where}.status.{field}")


def _node(raw: Mapping[str, Any], where: str, labels_extra: Mapping[str, str]) -> Node:
    meta = raw.get("metadata") or {}
    spec, status = raw.get("spec") or {}, raw.get("status") or {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise DomainError(f"{where}.metadata.name", "must be a non-empty string")
    labels = string_map(meta.get("labels"), f"{where}.metadata.labels") | dict(labels_extra)
    return Node(
        name,
        _capacity(status, where),
        labels=labels,
        taints=_taints(spec.get("taints"), f"{where}.spec.taints"),
        schedulable=not bool(spec.get("unschedulable", False)),
    )


def _affinity_label(affinity: NodeAffinity) -> str:
    digest = hashlib.sha1(repr(affinity).encode(), usedforsecurity=False).hexdigest()
    return NODE_AFFINITY_LABEL + digest[:10]


def _objects(doc: Mapping[str, Any], kind: str) -> list[tuple[str, Mapping[str, Any]]]:
    items = doc.get("items")
    if not isinstance(items, list):
        raise DomainError("items", "must be a list of Kubernetes objects")
    out = []
    for i, obj in enumerate(items):
        if not isinstance(obj, Mapping):
            raise DomainError(f"items[{i}]", "must be an object")
        if obj.get("kind") == kind:
            out.append((f"items[{i}]", obj))
    return out


def load_kubectl(source: str | Path | Mapping[str, Any]) -> Snapshot:
    """A snapshot of the nodes and live pods in ``source`` (a path to the
    JSON, or the parsed document)."""
    doc = _read(source)
    raw_nodes = _objects(doc, "Node")
    raw_pods = [
        (w, p)
        for w, p in _objects(doc, "Pod")
        if (p.get("status") or {}).get("phase") not in GONE_PHASES
    ]
    namespaces = tuple(
        sorted({str((p.get("metadata") or {}).get("namespace", "default")) for _, p in raw_pods})
    )
    pods = [parse_pod(p, w, namespaces) for w, p in raw_pods]
    names = [str((n.get("metadata") or {}).get("name", "")) for _, n in raw_nodes]
    extra: list[dict[str, str]] = [{} for _ in raw_nodes]
    items: list[Item] = []
    for pod in pods:
        items.append(_with_node_affinity(pod, raw_nodes, names, extra))
    nodes = tuple(_node(n, w, extra[i]) for i, (w, n) in enumerate(raw_nodes))
    known = set(names)
    assignments = {}
    for pod in pods:
        if pod.node_name is not None:
            if pod.node_name not in known:
                raise DomainError(f"{pod.where}.spec.nodeName", f"unknown node {pod.node_name!r}")
            assignments[pod.item.item_id] = Assignment(pod.node_name)
    pdbs = [parse_pdb(p, w) for w, p in _objects(doc, "PodDisruptionBudget")]
    running = {
        pod.item.item_id: (raw.get("status") or {}).get("phase") == "Running"
        for pod, (_, raw) in zip(pods, raw_pods, strict=True)
    }
    items, budgets = apply_pdbs(pdbs, items, running)
    return Snapshot(nodes, tuple(items), assignments, budgets)


def _with_node_affinity(
    pod: PodRecord,
    raw_nodes: list[tuple[str, Mapping[str, Any]]],
    names: list[str],
    extra: list[dict[str, str]],
) -> Item:
    """The pod's item, with a synthesized label for node affinity that no
    nodeSelector expresses (added to ``extra`` for the nodes it admits)."""
    if pod.node_affinity is None:
        return pod.item
    key = _affinity_label(pod.node_affinity)
    for i, (w, n) in enumerate(raw_nodes):
        labels = string_map((n.get("metadata") or {}).get("labels"), f"{w}.metadata.labels")
        if node_affinity_matches(pod.node_affinity, names[i], labels):
            extra[i][key] = "true"
    selector = {**pod.item.node_selector, key: "true"}
    return replace(pod.item, node_selector=selector)


__all__ = ["load_kubectl"]
