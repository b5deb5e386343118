"""Kubernetes Node and Pod objects (as kubectl -o json prints them)."""

from __future__ import annotations

from typing import Any


def node(
    name: str, cpu: str = "4", memory: str = "8Gi", taints: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": "110"}
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {"taints": taints or []},
        "status": {"allocatable": alloc, "capacity": alloc},
    }


def pod(
    name: str,
    cpu: str = "1500m",
    memory: str = "1Gi",
    node_name: str | None = None,
    priority: int = 0,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}],
        "priority": priority,
    }
    if node_name:
        spec["nodeName"] = node_name
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "rs", "controller": True}],
        },
        "spec": spec,
        "status": {"phase": "Running" if node_name else "Pending"},
    }
