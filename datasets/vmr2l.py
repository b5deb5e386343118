"""Loader for the VMR2L VM/PM snapshot JSON (``datasets/vmr2l/``).

Format (see ``vmr2l/README.md``): ``cluster_list[]`` with ``host_info[]``
(PMs with per-NUMA ``total_cpu``/``free_cpu`` and huge-page memory),
``vm_instance[]`` (VMs with per-NUMA ``cpu``/``mem_mb``) and
``other_requirement.deployment_set`` (anti-affinity sets).

Mapping to the domain model:

* a PM becomes a :class:`Node` with resources ``cpu_cores`` and
  ``memory_mb``, one :class:`NumaNode` per NUMA entry, ``schedulable`` only
  when ``status`` is ``ACTIVE``, ``cluster`` = the cluster name, and labels for
  rack and cluster;
* the part of a NUMA node neither free nor used by the listed VMs is kept as
  that NUMA node's ``reserved`` (it stays in force when VMs move);
* a VM becomes an :class:`Item` of kind ``vm`` whose request is the sum over
  its NUMA entries, ``numa_split`` when it occupies two NUMA nodes,
  ``movable`` from ``allow_migration`` (boolean or 0/1), never evictable;
* a deployment set (``{"name"|"id", "granularity": "host"|"rack",
  "vm_list"|"instance_ids": [...]}``) becomes a label on its VMs and a
  required anti-affinity term over the host or rack topology key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

from optsched.errors import DomainError
from optsched.model import (
    CLUSTER_KEY,
    CPU_CORES,
    HOSTNAME_KEY,
    MEMORY_MB,
    RACK_KEY,
    AffinityTerm,
    Assignment,
    Item,
    LabelSelector,
    Node,
    NumaNode,
    Resources,
    Snapshot,
)

ACTIVE = "ACTIVE"
DEPLOYMENT_SET_LABEL = "optsched.io/deployment-set"
SHIPPED = ("medium", "large")


def shipped_path(name: str) -> Path:
    """Path of a shipped snapshot (``medium`` or ``large``)."""
    if name not in SHIPPED:
        raise DomainError(
            "dataset", f"unknown shipped snapshot {name!r}; known: {', '.join(SHIPPED)}"
        )
    ref = importlib_resources.files("optsched.datasets") / "vmr2l" / f"{name}.json"
    return Path(str(ref))


def load_shipped(name: str) -> Snapshot:
    return load_vmr2l(shipped_path(name))


def load_vmr2l(source: str | Path | Mapping[str, Any]) -> Snapshot:
    """Read a VMR2L snapshot (a path or the parsed JSON) into a Snapshot."""
    data = source if isinstance(source, Mapping) else json.loads(Path(source).read_text())
    clusters = data.get("cluster_list")
    if not isinstance(clusters, list) or not clusters:
        raise DomainError("cluster_list", "must be a non-empty list")
    nodes: list[Node] = []
    items: list[Item] = []
    assignments: dict[str, Assignment] = {}
    for ci, cluster in enumerate(clusters):
        name = str(cluster.get("cluster_name", f"cluster_{ci}"))
        where = f"cluster_list[{ci}]"
        sets = _deployment_sets(cluster.get("other_requirement") or {}, where)
        vms_by_host: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
        for vi, vm in enumerate(cluster.get("vm_instance") or []):
            vms_by_host.setdefault(str(vm.get("host_id")), []).append((vi, vm))
        for hi, host in enumerate(cluster.get("host_info") or []):
            nodes.append(
                _node(
                    host,
                    name,
                    f"{where}.host_info[{hi}]",
                    vms_by_host.get(str(host.get("node_id")), []),
                )
            )
        for vi, vm in enumerate(cluster.get("vm_instance") or []):
            item, assignment = _vm(vm, name, f"{where}.vm_instance[{vi}]", sets)
            items.append(item)
            assignments[item.item_id] = assignment
    return Snapshot(tuple(nodes), tuple(items), assignments)


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DomainError(where, f"must be a finite number, got {value!r}")
    if value < 0:
        raise DomainError(where, f"must not be negative, got {value}")
    return float(value)


def _node(
    host: Mapping[str, Any], cluster: str, where: str, vms: list[tuple[int, Mapping[str, Any]]]
) -> Node:
    node_id = host.get("node_id")
    if not isinstance(node_id, str) or not node_id:
        raise DomainError(f"{where}.node_id", "must be a non-empty string")
    used: dict[int, list[float]] = {}
    for _, vm in vms:
        for part in vm.get("numa") or []:
            acc = used.setdefault(int(part.get("node", -1)), [0.0, 0.0])
            acc[0] += float(part.get("cpu", 0))
            acc[1] += float(part.get("mem_mb", 0))
    numa: list[NumaNode] = []
    for k, nn in enumerate(host.get("numa") or []):
        w = f"{where}.numa[{k}]"
        total_cpu = _num(nn.get("total_cpu"), f"{w}.total_cpu")
        free_cpu = _num(nn.get("free_cpu"), f"{w}.free_cpu")
        total_mem = _num(nn.get("memory_huge_total_mb"), f"{w}.memory_huge_total_mb")
        free_mem = _num(nn.get("memory_huge_free_mb"), f"{w}.memory_huge_free_mb")
        cpu_used, mem_used = used.get(int(nn.get("node", k)), [0.0, 0.0])
        numa.append(
            NumaNode(
                capacity=Resources.of({CPU_CORES: int(total_cpu), MEMORY_MB: int(total_mem)}),
                reserved=Resources.of(
                    {
                        CPU_CORES: max(0, int(round(total_cpu - free_cpu - cpu_used))),
                        MEMORY_MB: max(0, int(math.ceil(total_mem - free_mem - mem_used))),
                    }
                ),
            )
        )
    capacity = {
        CPU_CORES: int(
            _num(
                host.get("node_cpu", sum(n.capacity[CPU_CORES] for n in numa)), f"{where}.node_cpu"
            )
        ),
        MEMORY_MB: int(
            _num(
                host.get("node_mem_mb", sum(n.capacity[MEMORY_MB] for n in numa)),
                f"{where}.node_mem_mb",
            )
        ),
    }
    reserved = {r: sum(n.reserved[r] for n in numa) for r in (CPU_CORES, MEMORY_MB)}
    labels = {HOSTNAME_KEY: node_id, CLUSTER_KEY: cluster}
    if host.get("rack_id") is not None:
        labels[RACK_KEY] = str(host["rack_id"])
    return Node(
        name=node_id,
        capacity=Resources.of(capacity),
        labels=labels,
        numa=tuple(numa),
        schedulable=str(host.get("status", ACTIVE)).upper() == ACTIVE,
        cluster=cluster,
        reserved=Resources.of(reserved),
    )


def _vm(
    vm: Mapping[str, Any], cluster: str, where: str, sets: Mapping[str, tuple[str, str]]
) -> tuple[Item, Assignment]:
    vm_id = vm.get("instance_id")
    if not isinstance(vm_id, str) or not vm_id:
        raise DomainError(f"{where}.instance_id", "must be a non-empty string")
    parts = vm.get("numa") or []
    if len(parts) not in (1, 2):
        raise DomainError(f"{where}.numa", f"a VM occupies one or two NUMA nodes, got {len(parts)}")
    cpu = sum(_num(p.get("cpu"), f"{where}.numa.cpu") for p in parts)
    mem = sum(_num(p.get("mem_mb"), f"{where}.numa.mem_mb") for p in parts)
    allow = vm.get("allow_migration", True)
    if allow not in (True, False, 0, 1):
        raise DomainError(f"{where}.allow_migration", f"must be a boolean or 0/1, got {allow!r}")
    labels = {"instance_type": str(vm.get("instance_type", ""))}
    anti: tuple[AffinityTerm, ...] = ()
    if vm_id in sets:
        set_name, key = sets[vm_id]
        labels[DEPLOYMENT_SET_LABEL] = set_name
        anti = (AffinityTerm(LabelSelector({DEPLOYMENT_SET_LABEL: set_name}), topology_key=key),)
    item = Item(
        item_id=vm_id,
        requests=Resources.of({CPU_CORES: int(math.ceil(cpu)), MEMORY_MB: int(math.ceil(mem))}),
        namespace=cluster,
        owner=labels.get(DEPLOYMENT_SET_LABEL, ""),
        labels=labels,
        movable=bool(allow),
        evictable=False,
        anti_affinity=anti,
        numa_split=len(parts) == 2,
        kind="vm",
        cluster=cluster,
    )
    host = vm.get("host_id")
    if not isinstance(host, str):
        raise DomainError(f"{where}.host_id", "must be a string")
    return item, Assignment(host, tuple(int(p.get("node", 0)) for p in parts))


def _deployment_sets(req: Mapping[str, Any], where: str) -> dict[str, tuple[str, str]]:
    """VM id -> (set name, topology key) for each deployment set."""
    out: dict[str, tuple[str, str]] = {}
    for si, ds in enumerate(req.get("deployment_set") or []):
        w = f"{where}.other_requirement.deployment_set[{si}]"
        if not isinstance(ds, Mapping):
            raise DomainError(w, "must be an object")
        name = str(ds.get("name", ds.get("id", f"set_{si}")))
        granularity = str(ds.get("granularity", "host")).lower()
        if granularity not in ("host", "rack"):
            raise DomainError(f"{w}.granularity", f"must be 'host' or 'rack', got {granularity!r}")
        key = HOSTNAME_KEY if granularity == "host" else RACK_KEY
        for vm_id in ds.get("vm_list", ds.get("instance_ids", [])):
            out[str(vm_id)] = (name, key)
    return out
