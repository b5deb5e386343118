"""optsched's view of the cluster for the scheduler extender.

The view keeps the raw Kubernetes objects: nodes (from a startup
``kubectl get nodes,pods -A -o json`` snapshot and from every ExtenderArgs
that carries full ``Nodes``) and the pods placed on them (from the snapshot
and from every bind through the extender). A request's snapshot is built
with the kubectl loader (:func:`optsched.datasets.kubectl.load_kubectl`), so
quantities, taints, selectors and affinity mean exactly what they mean for
``optsched solve pods``.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from optsched.datasets.kubectl import load_kubectl
from optsched.errors import DomainError
from optsched.model import Snapshot

# Pods seen in filter/prioritize calls, kept so that bind (which names the pod
# only) can add the whole object to the view; kube-scheduler binds a pod
# shortly after filtering it, so a bounded recent set suffices.
MAX_PENDING_PODS = 10_000


def pod_key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"


class ClusterView:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.nodes: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, dict[str, Any]] = {}  # "namespace/name" -> placed pod
        self.uids: dict[str, str] = {}  # pod UID -> "namespace/name"
        self.pending: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @classmethod
    def from_kubectl(cls, path: Path) -> ClusterView:
        import json

        view = cls()
        doc = json.loads(path.read_text())
        load_kubectl(doc)  # validates the document as a whole
        for obj in doc.get("items", []):
            if obj.get("kind") == "Node":
                view.nodes[obj["metadata"]["name"]] = obj
            elif obj.get("kind") == "Pod" and (obj.get("spec") or {}).get("nodeName"):
                view._add_pod(obj)
        return view

    def _add_pod(self, pod: dict[str, Any]) -> None:
        key = pod_key(pod)
        self.pods[key] = pod
        uid = (pod.get("metadata") or {}).get("uid")
        if uid:
            self.uids[str(uid)] = key

    def update_nodes(self, nodes: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            for n in nodes:
                self.nodes[n["metadata"]["name"]] = n

    def remember(self, pod: dict[str, Any]) -> None:
        with self._lock:
            key = pod_key(pod)
            self.pending[key] = pod
            self.pending.move_to_end(key)
            while len(self.pending) > MAX_PENDING_PODS:
                self.pending.popitem(last=False)

    def bind(self, namespace: str, name: str, uid: str, node: str) -> None:
        with self._lock:
            key = f"{namespace}/{name}"
            pod = self.pending.pop(key, None) or self.pods.get(key)
            if pod is None:
                raise DomainError(
                    "PodName", f"optsched has not seen pod {key} in a filter or prioritize call"
                )
            pod = copy.deepcopy(pod)
            pod.setdefault("spec", {})["nodeName"] = node
            pod.setdefault("metadata", {}).setdefault("uid", uid)
            self._add_pod(pod)

    def known(self, names: Iterable[str]) -> list[str]:
        with self._lock:
            return [n for n in names if n in self.nodes]

    def victims(self, uids: Iterable[str]) -> list[str]:
        with self._lock:
            return [self.uids[u] for u in uids if u in self.uids]

    def snapshot(self, node_names: Iterable[str], pod: dict[str, Any]) -> Snapshot:
        """The named nodes, the pods placed on them, and ``pod`` pending."""
        with self._lock:
            names = set(node_names)
            nodes = [self.nodes[n] for n in names if n in self.nodes]
            placed = [
                p
                for p in self.pods.values()
                if p["spec"]["nodeName"] in names and pod_key(p) != pod_key(pod)
            ]
        pending = copy.deepcopy(pod)
        pending.setdefault("spec", {}).pop("nodeName", None)
        pending.setdefault("kind", "Pod")
        items = (
            [{**n, "kind": "Node"} for n in nodes]
            + [{**p, "kind": "Pod"} for p in placed]
            + [pending]
        )
        return load_kubectl({"kind": "List", "items": items})
